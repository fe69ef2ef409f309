"""Rule packs (contract §4): the shipped default and a regulator's own TOML pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rules.builders import ABSENT, acceptance, at, check, utc, xray

from greenshield.rules.catalog import RULES
from greenshield.rules.pack import default_pack, load_pack

SEVERITY = {
    "IN-2": "critical", "XR-1": "critical", "XR-3": "critical", "PH-1": "critical", "PH-2": "critical",
    "RN-1": "high", "IN-1": "high", "XR-2": "high", "XR-4": "high", "TR-1": "high", "PR-2": "high",
    "PR-3": "high",  # revision 2 §8.2
    "RN-2": "medium", "RN-3": "medium", "TK-1": "medium", "TK-2": "medium", "PR-1": "medium",
}


class TestDefaultPack:
    """§4: greenshield-default@1 with the contract's severities, durations and X-ray scope."""

    def test_name_version_and_scope(self):
        """The default pack is greenshield-default, version 1, screening every parcel."""
        pack = default_pack()
        assert (pack.name, pack.version, pack.label, pack.xray_scope) == (
            "greenshield-default", "1", "greenshield-default@1", "all")

    @pytest.mark.parametrize("rule_id, severity", sorted(SEVERITY.items()))
    def test_default_severity(self, rule_id, severity):
        """Each rule's default severity is the one §4 lists."""
        assert default_pack().severity[rule_id] == severity

    def test_every_rule_is_enabled_and_catalogued(self):
        """All sixteen rules of §3.2, and PR-3 of revision 2 §8.2, are implemented and enabled by default."""
        assert set(RULES) == set(SEVERITY) == set(default_pack().enabled)

    @pytest.mark.parametrize("rule_id, seconds", [("XR-4", 24 * 3600), ("PH-2", 2 * 3600), ("TR-1", 6 * 3600)])
    def test_default_durations(self, rule_id, seconds):
        """The deadlines default to 24h, 2h and 6h."""
        assert default_pack().deadlines[rule_id] == seconds


class TestRegulatorPack:
    """A pack file overrides what it names and keeps the defaults for the rest."""

    def _pack(self, tmp_path: Path, body: str):
        path = tmp_path / "pack.toml"
        path.write_text('[pack]\nname = "sh"\nversion = 3\n' + body, "utf-8")
        return load_pack(path)

    def test_shorter_xr4_deadline_fires_earlier(self, tmp_path: Path):
        """With XR-4's deadline at 12h, an unscreened acceptance is flagged at a + 12h, inclusive."""
        pack = self._pack(tmp_path, '[rules."XR-4"]\ndeadline = "12h"\n')
        assert check([acceptance("acc", at(0))], pack=pack, as_of=at(12)).when("XR-4") == utc(12)
        assert "XR-4" not in check([acceptance("acc", at(0)), xray("xr", at(12))], pack=pack, as_of=at(48)).rules()

    def test_severity_override_and_label(self, tmp_path: Path):
        """A severity override shows in the violation, with the pack's name@version."""
        pack = self._pack(tmp_path, '[rules."RN-1"]\nseverity = "critical"\n')
        out = check([acceptance("acc", at(0), sender=ABSENT)], pack=pack)
        assert out["RN-1"].severity == "critical" and out["RN-1"].rule_pack == "sh@3"
        assert out.get("PR-1") is None

    @pytest.mark.parametrize("body", [
        '[rules."XR-9"]\nseverity = "high"\n',
        '[rules."RN-1"]\nseverity = "low"\n',
        '[rules."XR-4"]\ndeadline = "one day"\n',
    ], ids=["unknown-rule", "unknown-severity", "bad-duration"])
    def test_bad_pack_is_a_value_error(self, tmp_path: Path, body):
        """A pack naming an unknown rule, severity or duration is refused with a ValueError."""
        with pytest.raises(ValueError):
            self._pack(tmp_path, body)

    def test_bad_scope_is_a_value_error(self, tmp_path: Path):
        """An unknown xray_scope is refused."""
        path = tmp_path / "p.toml"
        path.write_text('[pack]\nname = "x"\nversion = "1"\nxray_scope = "some"\n', "utf-8")
        with pytest.raises(ValueError):
            load_pack(path)
