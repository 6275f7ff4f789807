"""Benchmarks (``make bench``): each prints its timings and ratios against baselines measured in the same run."""
