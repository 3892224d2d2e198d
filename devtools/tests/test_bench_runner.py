"""The benchmark runner: which (benchmark, database) runs a command line asks for."""

import pytest

from devtools.bench import available, runs

BENCHMARKS = {"prompt_cache": ("sqlite",), "metrics_rollup": ("postgresql", "sqlite")}


def test_no_names_run_every_benchmark_on_each_of_its_databases():
    assert runs([], BENCHMARKS) == [("prompt_cache", "sqlite"), ("metrics_rollup", "postgresql"),
                                    ("metrics_rollup", "sqlite")]


def test_a_name_can_be_narrowed_to_one_database():
    assert runs(["metrics_rollup:sqlite", "prompt_cache"], BENCHMARKS) == [
        ("metrics_rollup", "sqlite"), ("prompt_cache", "sqlite")]


@pytest.mark.parametrize("argument", ["nope", "prompt_cache:postgresql"])
def test_an_unknown_benchmark_or_database_exits_with_the_choices(argument):
    with pytest.raises(SystemExit, match="Available: prompt_cache \\(sqlite\\), metrics_rollup"):
        runs([argument], BENCHMARKS)


def test_every_benchmark_module_names_databases_the_runner_knows():
    benchmarks = available()
    assert "prompt_cache" in benchmarks and benchmarks["metrics_admin"] == ("postgresql",)
    assert all(set(engines) <= {"sqlite", "postgresql"} and engines for engines in benchmarks.values())
