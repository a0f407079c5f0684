"""Benchmarks of the scheduling engine (see benchmarks/README.md); not part of the installed package."""
