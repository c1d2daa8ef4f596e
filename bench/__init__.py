"""Ondo's benchmarks: figures recorded in bench/RESULTS.md (not timed tests)."""
