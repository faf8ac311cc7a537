"""A ``TEST`` database number too high for the run's processes is one clear error,
before anything is flushed (issue 21): ``manage.py test --parallel 2`` and
``pytest -n 2`` with ``"TEST": {"DB": 15}`` on a server of 16 databases."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_limpyd.test.isolation import TestDatabases, active, with_db
from tests.test.project import run

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _session_databases():
    """The session's test databases, active again after a test that set up its own."""
    session = active()
    slot = session.slot if session is not None else None
    yield
    if session is not None and slot is not None:
        session.activate(slot)


def plan(real_server, test: dict, **kwargs) -> TestDatabases:
    databases = {"default": {"LOCATION": real_server.url, "TEST": test}}
    with override_settings(LIMPYD_DATABASES=databases):
        tests = TestDatabases(**kwargs)
        tests.setup(lambda message: True)  # on failure, nothing is left to tear down
        tests.teardown()
        return tests


def test_parallel_workers_past_the_last_database_are_refused_up_front(real_server):
    foreign = real_server.client(db=15)
    foreign.set("kept", "1")  # nothing is flushed when the plan is refused
    with pytest.raises(ImproperlyConfigured) as error:
        plan(real_server, {"DB": 15}, workers=2)
    assert str(error.value) == (
        "LIMPYD_DATABASES['default']['TEST']['DB'] = 15 leaves too few databases for this "
        "test run: main process: db 15, worker 1: db 16, worker 2: db 17 (one database per "
        f"test process), but the server of {with_db(real_server.url, 17)} has 16 databases (0 to "
        "15). Give a TEST DB of at most 13, run fewer test processes, or raise the server's "
        "`databases` directive."
    )
    assert foreign.get("kept") == "1"
    foreign.close()
    assert plan(real_server, {"DB": 13}, workers=2).urls[2]["default"].endswith("?db=15")


def test_an_xdist_worker_is_named_and_counts_the_workers_after_it(real_server):
    with pytest.raises(ImproperlyConfigured) as error:
        plan(
            real_server,
            {"DB": 14},
            db_offset=1,
            process_name="pytest-xdist worker gw0",
            later_processes=1,
        )
    message = str(error.value)
    assert "(main process)" not in message and "main process" not in message
    assert "pytest-xdist worker gw0: db 15, the 1 other worker(s) after it: up to db 16" in (
        message
    )
    assert "Give a TEST DB of at most 13," in message


def test_embedded_locations_are_checked_without_starting_a_server(tmp_path):
    location = f"embedded://{tmp_path}/redis"
    databases = {"default": {"LOCATION": location, "TEST": {"DB": 15}}}
    with override_settings(LIMPYD_DATABASES=databases):
        tests = TestDatabases(workers=1)
        with pytest.raises(ImproperlyConfigured, match=r"has 16 databases \(0 to 15\)\. Give"):
            tests.setup(lambda message: True)
    assert not (tmp_path / "redis").exists()


@pytest.mark.slow
def test_manage_py_test_and_pytest_n_2_say_it_in_one_line(project):
    done = run(project, "manage.py", "test", "--parallel", "2", "--noinput", test='{"DB": 15}')
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "CommandError: LIMPYD_DATABASES['default']['TEST']['DB'] = 15 leaves too few" in (
        done.stderr
    )
    args = ("-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "pytests/test_people.py")
    done = run(project, *args, test='{"DB": 15}')
    assert done.returncode == 1
    assert "django_limpyd: LIMPYD_DATABASES['default']['TEST']['DB'] = 15" in done.stdout
    assert "pytest-xdist worker gw0: db 16" in done.stdout
    assert "(main process)" not in done.stdout and "Traceback" not in done.stdout
