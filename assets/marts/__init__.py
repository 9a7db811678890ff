"""Marts for analysts, their expectation suites, and the read-only snapshot analysts query."""
