"""Tests of the risk ranking: credit, planted faults, the risk index and its refresh, publishing."""
