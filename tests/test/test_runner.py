"""``manage.py test`` of a throwaway project with django_limpyd's DiscoverRunner.

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

REPORT = re.compile(r"\[(first|second)\] pid=(\d+) test databases=(\{.*\})")
TEST_DB_5 = '{"DB": 5}'


def reports(output: str) -> dict[str, tuple[int, dict[str, str]]]:
    """What each passing test printed: its pid and its test databases."""
    return {name: (int(pid), ast.literal_eval(urls)) for name, pid, urls in REPORT.findall(output)}


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_parallel_workers_get_their_own_databases_and_never_the_real_ones(
    project, real_server, start_method
):
    watcher = real_server.client()
    before = connections_received(watcher)
    args = ("manage.py", "test", "people.tests", "--parallel", "2", "-v", "2")
    done = run(project, *args, rendezvous=True, env={"START_METHOD": start_method})
    assert done.returncode == 0, done.stderr
    assert "Ran 2 tests" in done.stderr
    seen = reports(done.stdout)
    assert set(seen) == {"first", "second"}
    (pid1, urls1), (pid2, urls2) = seen["first"], seen["second"]
    assert pid1 != pid2  # the tests met while running in two workers
    assert set(urls1.values()).isdisjoint(urls2.values())
    for url in [*urls1.values(), *urls2.values()]:
        assert "/lpd-" in url and "lpd-real-" not in url  # the run's private server
    assert "(worker 2)" in done.stdout
    # the run never even connected to the real server; its data is untouched
    assert connections_received(watcher) == before
    watcher.close()
    assert_real_data_untouched(real_server)


def test_a_test_location_holding_foreign_keys_is_flushed_only_once_confirmed(project, real_server):
    foreign = real_server.client(db=5)
    foreign.set("foreign", "not created by a test run")

    for answer in ("no\n", ""):  # "no", then stdin closed
        refused = run(project, "manage.py", "test", "people.tests", stdin=answer, test=TEST_DB_5)
        assert refused.returncode == 1
        assert "hold keys that no test run created" in refused.stdout
        assert "db=5 (LIMPYD_DATABASES['default']): 1 key(s)" in refused.stdout
        assert "Tests cancelled." in refused.stdout
        assert "Ran " not in refused.stderr
        assert foreign.get("foreign") == "not created by a test run"

    args = ("manage.py", "test", "people.tests", "--noinput", "--parallel", "2")
    accepted = run(project, *args, test=TEST_DB_5, rendezvous=True)
    assert accepted.returncode == 0, accepted.stderr
    workers = reports(accepted.stdout).values()
    dbs = sorted(urls["default"].rpartition("db=")[2] for _pid, urls in workers)
    assert dbs == ["6", "7"]  # the workers' own databases after TEST DB 5
    # flushed at the start, test data flushed at the end; the sentinels are untouched
    assert_real_data_untouched(real_server)
    foreign.close()


def test_keepdb_keeps_the_test_location_for_the_next_keepdb_run(project, real_server):
    args = ("manage.py", "test", "people.tests", "--keepdb")
    first = run(project, *args, "--noinput", test=TEST_DB_5)
    assert first.returncode == 0, first.stderr
    kept = keyspace(real_server)[5]
    assert MARKER_KEY in kept
    assert any(key.startswith("{people:Person}") for key in kept)

    # no confirmation asked (stdin is closed): the marker says it is test data
    again = run(project, *args, test=TEST_DB_5)
    assert again.returncode == 0, again.stderr
    assert "Keeping the Redis test location" in again.stdout
    assert_real_data_untouched(real_server, db5=kept)

    # without --keepdb, data kept by a test run is flushed without asking
    last = run(project, "manage.py", "test", "people.tests", test=TEST_DB_5)
    assert last.returncode == 0, last.stderr
    assert_real_data_untouched(real_server)


def test_command_counts_and_blocked_access_fail_with_their_explanation(project, real_server):
    done = run(project, "manage.py", "test", "people.expected_failures")
    assert done.returncode == 1
    output = done.stderr
    assert "FAILED (failures=1, errors=2)" in output
    # assertNumCommands lists the commands (library loads are never counted: 2 FCALL only)
    assert re.search(r"AssertionError: 2 commands sent, 1 expected:\n1\. (FCALL|EVALSHA) ", output)
    assert re.search(r"\n2\. (FCALL_RO|FCALL|EVALSHA) ", output)
    # a SimpleTestCase and a plain unittest.TestCase did not ask for Redis
    blocked = "DatabaseAccessBlocked: Redis access not allowed in this test (the Redis database "
    assert output.count(blocked) == 2
    assert "use django_limpyd.test.TestCase (or LimpydTestMixin)" in output
    assert keyspace(real_server) == {0: [SENTINEL], 1: [SENTINEL]}
