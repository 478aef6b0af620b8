"""Benchmarks (each a `python -m ablate.bench.<name>` that prints numbers; `ablate bench` is speed.py) and the
sample data they and the README use (samples.py)."""
