"""The regulator and auditor service: the ``/v1`` API, the dashboard pages, tokens and roles (issue 6)."""
