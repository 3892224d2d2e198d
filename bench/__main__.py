"""Run benchmarks: each module `bench/bench_<name>.py` has a `main()` that prints its figures."""

import importlib
import os
import pkgutil
import subprocess
import sys
import time

import django


def available():
    import bench

    modules = pkgutil.iter_modules(bench.__path__)
    return sorted(m.name.removeprefix("bench_") for m in modules if m.name.startswith("bench_"))


def run_one(name):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(f"== {name}", flush=True)
    started = time.perf_counter()
    importlib.import_module(f"bench.bench_{name}").main()
    print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


def main(argv):
    names = argv or available()
    unknown = set(names) - set(available())
    if unknown:
        sys.exit(f"Unknown benchmark(s): {', '.join(sorted(unknown))}. Available: {', '.join(available())}")
    if len(names) == 1:
        run_one(names[0])
        return
    # Each benchmark points Django at its own throw-away databases: a fresh process apiece keeps one
    # benchmark's settings and connections from leaking into the next.
    failed = [name for name in names if subprocess.run([sys.executable, "-m", "bench", name]).returncode]
    if failed:
        sys.exit(f"Failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
