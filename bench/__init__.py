"""Benchmarks: each prints its figures (medians and ratios measured in the same run)."""
