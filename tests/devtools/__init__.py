"""Tests of the developer tools: packaging of the broker's POM."""
