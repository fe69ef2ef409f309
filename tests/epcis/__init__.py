"""Tests of the EPCIS export against the GS1 test data."""
