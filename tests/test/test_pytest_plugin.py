"""pytest (with pytest-django and pytest-xdist) on a throwaway project, with the
django_limpyd plugin loaded through its ``pytest11`` entry point.

The project's settings point at a "real" server holding a sentinel key; every
run is a subprocess whose output is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import ast
import re

import pytest

from django_limpyd.test.isolation import MARKER_KEY
from tests.test.project import (
    SENTINEL,
    assert_real_data_untouched,
    connections_received,
    keyspace,
    run,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

#: ``-p django_limpyd`` names the entry point: the plugin is loaded once either way
PYTEST = ("-m", "pytest", "-p", "django_limpyd")
REPORT = re.compile(r"\[(first|second)\] pid=(\d+) test databases=(\{.*\})")
TEST_DB_5 = '{"DB": 5}'


def reports(output: str) -> dict[str, tuple[int, dict[str, str]]]:
    """What each passing test printed (``-rA`` shows it): its pid and test databases."""
    return {name: (int(pid), ast.literal_eval(urls)) for name, pid, urls in REPORT.findall(output)}


def test_xdist_workers_get_their_own_server_and_never_the_real_one(project, real_server):
    watcher = real_server.client()
    before = connections_received(watcher)
    # two tests on two workers: xdist sends fewer than 2 tests per worker round robin
    done = run(project, *PYTEST, "-n", "2", "-rA", "pytests/test_people.py", rendezvous=True)
    assert done.returncode == 0, done.stdout
    assert "2 passed" in done.stdout
    seen = reports(done.stdout)
    assert set(seen) == {"first", "second"}
    (pid1, urls1), (pid2, urls2) = seen["first"], seen["second"]
    assert pid1 != pid2  # the tests met while running in two workers
    # each worker has its own private server: same db numbers, other sockets
    assert urls1["default"].endswith("db=0") and urls1["other"].endswith("db=1")
    assert set(urls1.values()).isdisjoint(urls2.values())
    for url in [*urls1.values(), *urls2.values()]:
        assert "/lpd-" in url and "lpd-real-" not in url
    files = ("pytests/test_unittest_style.py", "pytests/test_with_db.py")
    more = run(project, *PYTEST, "-n", "2", "-rA", *files)
    assert more.returncode == 0, more.stdout
    for passed in (
        "test_unittest_style.py::UnittestStyleTests::test_starts_empty",  # LimpydTestMixin
        "test_with_db.py::test_sql_and_redis",  # with pytest-django's db fixture
        "test_with_db.py::test_both_markers",
    ):
        assert f"PASSED pytests/{passed}" in more.stdout
    assert connections_received(watcher) == before  # never even connected
    watcher.close()
    assert_real_data_untouched(real_server)


def test_a_test_location_holding_foreign_keys_needs_noinput(project, real_server):
    foreign = real_server.client(db=5)
    foreign.set("foreign", "not created by a test run")

    refused = run(project, *PYTEST, "pytests/test_people.py", test=TEST_DB_5)
    assert refused.returncode == 1
    assert "hold keys that no test run created" in refused.stdout
    assert "Run with --limpyd-noinput to flush them." in refused.stdout
    assert "2 errors" in refused.stdout
    assert foreign.get("foreign") == "not created by a test run"

    args = ("-n", "2", "-rA", "--limpyd-noinput", "pytests/test_people.py")
    accepted = run(project, *PYTEST, *args, test=TEST_DB_5, rendezvous=True)
    assert accepted.returncode == 0, accepted.stdout
    workers = reports(accepted.stdout).values()
    dbs = sorted(urls["default"].rpartition("db=")[2] for _pid, urls in workers)
    assert dbs == ["6", "7"]  # gw0 and gw1 use TEST DB 5 + 1 and + 2
    foreign.close()

    # db 5 was not used by the xdist run: flush it with a plain run
    plain = run(project, *PYTEST, "--limpyd-noinput", "pytests/test_people.py", test=TEST_DB_5)
    assert plain.returncode == 0, plain.stdout
    assert_real_data_untouched(real_server)


def test_keepdb_keeps_the_test_location_for_the_next_keepdb_run(project, real_server):
    args = ("--limpyd-keepdb", "pytests/test_people.py")
    first = run(project, *PYTEST, *args, "--limpyd-noinput", test=TEST_DB_5)
    assert first.returncode == 0, first.stdout
    kept = keyspace(real_server)[5]
    assert MARKER_KEY in kept
    assert any(key.startswith("{people:Person}") for key in kept)

    again = run(project, *PYTEST, *args, test=TEST_DB_5)  # no --limpyd-noinput needed
    assert again.returncode == 0, again.stdout
    assert_real_data_untouched(real_server, db5=kept)

    last = run(project, *PYTEST, "pytests/test_people.py", test=TEST_DB_5)
    assert last.returncode == 0, last.stdout
    assert_real_data_untouched(real_server)


def test_command_counts_and_blocked_access_fail_with_their_explanation(project, real_server):
    done = run(project, *PYTEST, "pytests/failures.py")
    assert done.returncode == 1
    output = done.stdout
    assert "3 failed" in output
    expected = r"AssertionError: 2 commands sent, 1 expected:\nE +1\. (FCALL|EVALSHA) "
    assert re.search(expected, output)
    assert re.search(r"\nE +2\. (FCALL_RO|FCALL|EVALSHA) ", output)
    assert "DatabaseAccessBlocked: Redis access not allowed in this test" in output
    assert "or the `limpyd` pytest marker / `limpyd_db` fixture" in output
    assert "database 'other' is not allowed in this test, which asked only for 'default'" in output
    assert keyspace(real_server) == {0: [SENTINEL], 1: [SENTINEL]}


def test_the_plugin_stays_out_of_a_session_without_django(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    done = run(tmp_path, *PYTEST, "-p", "no:django", "test_plain.py", settings=None)
    assert done.returncode == 0, done.stdout
    assert "1 passed" in done.stdout
    assert "django_limpyd:" not in done.stdout  # no header: nothing set up, nothing blocked
    helped = run(tmp_path, *PYTEST, "-p", "no:django", "--help", settings=None)
    assert "django_limpyd: Redis test databases:" in helped.stdout
    for option in ("--limpyd-keepdb", "--limpyd-noinput", "--limpyd-autouse", "limpyd_autouse"):
        assert option in helped.stdout
