"""Wiring of the named scenarios: configs and baselines only (algorithms live elsewhere)."""
