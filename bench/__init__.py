"""Benchmarks, one module per benchmark. Run all with `bin/bench`, or some with `bin/bench prompt_cache`."""
