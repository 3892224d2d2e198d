"""The benchmark runner behind `bin/bench`: each module `bench/bench_<name>.py` has a `main()` that
prints its figures, and may say in `DATABASES` which databases it measures ("sqlite", "postgresql";
default SQLite only).

    python -m devtools.bench                      # every benchmark on each of its databases
    python -m devtools.bench prompt_cache         # one (or several) by name
    python -m devtools.bench metrics_rollup:sqlite

Each (benchmark, database) runs in a fresh process on a fresh, migrated throw-away database
(devtools.databases), never the project's: a temporary SQLite file, or a database on the PostgreSQL
server of BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
"""

import importlib
import os
import pkgutil
import subprocess
import sys
import time

from devtools import databases


def available():
    """{name: databases} of every benchmark module."""
    import bench

    names = sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules(bench.__path__)
                   if m.name.startswith("bench_"))
    return {name: tuple(getattr(_module(name), "DATABASES", ("sqlite",))) for name in names}


def _module(name):
    return importlib.import_module(f"bench.bench_{name}")


def runs(arguments, benchmarks):
    """The (name, engine) pairs that `arguments` ask for; exits with the choices on a bad one."""
    pairs = []
    for argument in arguments or list(benchmarks):
        name, _, engine = argument.partition(":")
        if name not in benchmarks or (engine and engine not in benchmarks[name]):
            choices = ", ".join(f"{n} ({'/'.join(e)})" for n, e in benchmarks.items())
            sys.exit(f"Unknown benchmark {argument!r}. Available: {choices}")
        pairs += [(name, engine)] if engine else [(name, e) for e in benchmarks[name]]
    return pairs


def run_one(name, engine):
    """One benchmark on a throw-away database of `engine`, in this (fresh) process."""
    server = os.environ.get("BENCH_POSTGRES_URL", databases.DEFAULT_POSTGRES_SERVER)
    with databases.django_on_throwaway_database(
        prefix=f"bench_{name}", server_url=server if engine == "postgresql" else None
    ):
        print(f"== {name} ({engine})", flush=True)
        started = time.perf_counter()
        _module(name).main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


def main(argv):
    if argv[:1] == ["--one"]:
        run_one(*argv[1:3])
        return
    failed = [
        f"{name}:{engine}" for name, engine in runs(argv, available())
        if subprocess.run([sys.executable, "-m", "devtools.bench", "--one", name, engine]).returncode
    ]
    if failed:
        sys.exit(f"Failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
