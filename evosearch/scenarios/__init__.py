"""Wiring of the named scenarios: configs, baselines and the demo models they train.

Algorithms live elsewhere; ``demo_models`` builds the small offline models the scenarios
and benchmarks run on.
"""
