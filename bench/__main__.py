"""Run benchmarks: each module `bench/bench_<name>.py` has a `main()` that prints its figures."""

import importlib
import os
import pkgutil
import sys
import time

import django


def available():
    import bench

    modules = pkgutil.iter_modules(bench.__path__)
    return sorted(m.name.removeprefix("bench_") for m in modules if m.name.startswith("bench_"))


def main(argv):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    names = argv or available()
    unknown = set(names) - set(available())
    if unknown:
        sys.exit(f"Unknown benchmark(s): {', '.join(sorted(unknown))}. Available: {', '.join(available())}")
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.bench_{name}").main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
