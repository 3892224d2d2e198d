"""Starting the product with `bin/start` (and `--demo`): short messages for what an operator must fix, the admin
URL only once it answers, and a demo that works without an API key. Real processes, so all marked slow."""

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

BASE_DIR = settings.BASE_DIR
# What the test run sets and a real start must not inherit.
TEST_ONLY = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "Q_SYNC", "Q_REDIS_URL"}


def clean_env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and not k.startswith("ANTHROPIC_")}
    # The shared virtual environment is installed already; bin/start must not run pip on it.
    env.update(SKIP_INSTALL="1", **overrides)
    return env


def startup_check(**env):
    return subprocess.run(
        [sys.executable, "-m", "config.startup", "check"], cwd=BASE_DIR, env=clean_env(**env),
        capture_output=True, text=True, timeout=60,
    )


def assert_short_message_without_traceback(result, *expected):
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.startswith("Cannot start: "), message
    for part in expected:
        assert part in message
    assert len(message.splitlines()) <= 3, message


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Started:
    """`bin/start ARGS` in its own process group; its output (stdout and stderr) read line by line."""

    def __init__(self, *args, **env):
        self.process = subprocess.Popen(
            ["bin/start", *args], cwd=BASE_DIR, env=clean_env(**env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_line(self, start, timeout):
        """The first output line starting with `start` (every line before it is kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(start):
                return line
        raise AssertionError(f"no line starting with {start!r}; output:\n" + "\n".join(self.seen))

    def stop(self):
        """Ctrl-C, as an operator stops it: bin/start stops its server, worker and fake model."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start():
    started = []

    def run(*args, **env):
        started.append(Started(*args, **env))
        return started[-1]

    yield run
    for process in started:
        process.stop()


def answers(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


# Configuration problems: one short message, no traceback ---------------------------------------


def test_an_empty_database_url_stops_the_start_with_a_short_message():
    result = startup_check(DATABASE_URL="")
    assert_short_message_without_traceback(result, "DATABASE_URL is not a usable database URL")


def test_a_database_url_without_a_scheme_stops_the_start_with_a_short_message_without_the_password():
    result = startup_check(DATABASE_URL="erika:geheim@db.example.org/mail")
    assert_short_message_without_traceback(result, "DATABASE_URL is not a usable database URL")
    assert "geheim" not in result.stderr


def test_a_database_that_does_not_answer_stops_the_start_with_a_short_message():
    result = startup_check(DATABASE_URL=f"postgres://mail:geheim@127.0.0.1:{free_port()}/mail")
    assert_short_message_without_traceback(result, "the database postgresql mail on 127.0.0.1:", "DATABASE_URL")
    assert "geheim" not in result.stderr


def test_a_missing_secret_key_in_production_stops_the_start_with_a_short_message():
    result = startup_check(DEBUG="False", SECRET_KEY="")
    assert_short_message_without_traceback(result, "SECRET_KEY is not set")


def test_a_missing_api_key_is_a_notice_that_says_how_to_try_the_product_without_one(tmp_path):
    result = startup_check(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert result.returncode == 0, result.stderr
    # In the product's language (German by default), or English when the installation says so.
    assert "Hinweis: ANTHROPIC_API_KEY ist nicht gesetzt" in result.stdout
    assert "bin/start --demo" in result.stdout
    english = startup_check(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LANGUAGE_CODE="en")
    assert "Note: ANTHROPIC_API_KEY is not set" in english.stdout and "bin/start --demo" in english.stdout


def test_with_an_api_key_there_is_no_notice(tmp_path):
    result = startup_check(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", ANTHROPIC_API_KEY="sk-ant-test")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_bin_start_with_a_bad_database_url_says_so_and_starts_nothing(start):
    started = start(DATABASE_URL="mysql-but-not-really")
    assert started.process.wait(timeout=60) == 2
    output = "\n".join(line for line in iter(started.lines.get, None))
    assert "Cannot start: the configuration is not usable: DATABASE_URL is not a usable database URL" in output
    assert "Traceback" not in output and "Admin:" not in output


def test_an_unknown_option_is_refused_with_the_usage():
    result = subprocess.run(["bin/start", "--demmo"], cwd=BASE_DIR, env=clean_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "Unknown option: --demmo (bin/start, or bin/start --demo)" in result.stderr


# Starting -------------------------------------------------------------------------------------------


def test_the_admin_url_is_printed_only_once_the_server_answers(start, tmp_path):
    port = free_port()
    started = start(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", BIND_ADDRESS=f"127.0.0.1:{port}")
    line = started.wait_for_line("Admin: ", timeout=180)
    # Straight away, not after a retry: the server listened before the line was printed.
    assert answers(f"http://127.0.0.1:{port}/admin/login/") == 200
    assert line.startswith(f"Admin: http://127.0.0.1:{port}/admin/")
    said_before = "\n".join(started.seen)  # the missing key, and the way to try without one
    assert "Hinweis: ANTHROPIC_API_KEY ist nicht gesetzt" in said_before and "bin/start --demo" in said_before


def test_the_demo_loads_its_own_database_and_the_worker_processes_the_sample_emails_with_the_fake_model(
    start, tmp_path
):
    database, port = tmp_path / "demo.sqlite3", free_port()
    started = start("--demo", DEMO_DATABASE=str(database), DEMO_PORT=str(port))
    started.wait_for_line("Admin: ", timeout=300)
    assert answers(f"http://127.0.0.1:{port}/admin/login/") == 200
    assert started.lines.get(timeout=10).startswith("Demo: sign in as demo / demo.")
    assert "ANTHROPIC_API_KEY" not in "\n".join(started.seen)  # the demo needs none

    def statuses():
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT status, COUNT(*) FROM extraction_incomingemail"
                " WHERE message_id NOT LIKE '<demo-%' GROUP BY status"
            ).fetchall()
        return dict(rows)

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not statuses() or {"queued", "processing"} & set(statuses())):
        time.sleep(2)
    final = statuses()
    # Every sample e-mail was read by the fake model: classified, extracted or sent to a person; none failed.
    assert sum(final.values()) >= 7, final
    assert set(final) <= {"classified", "extracted", "manual_review"}, final
    with sqlite3.connect(database) as connection:
        demo_emails = connection.execute(
            "SELECT COUNT(*) FROM extraction_incomingemail WHERE message_id LIKE '<demo-%'"
        )
        assert demo_emails.fetchone()[0] == 10  # the demo fixture's e-mails, loaded beside them
