"""Benchmarks. Run all with `bin/bench`, or some with `bin/bench prompt_cache metrics_rollup`."""
