"""The test suite of Green Shield (a package: helpers import as ``tests.<dir>.<module>``)."""
