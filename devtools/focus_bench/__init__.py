"""Benchmarks of the pipeline at a large organisation's size: ``python -m focus_bench``."""
