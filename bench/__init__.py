"""Benchmarks (`make bench`): each measures fedops next to a baseline in the same run."""
