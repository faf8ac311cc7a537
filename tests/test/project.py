"""A throwaway Django project whose test suites run in subprocesses.

Its ``LIMPYD_DATABASES`` point at a "real" server (a :class:`PrivateRedisServer`
of the calling test, holding a sentinel key): the test runner or the pytest
plugin must send every test elsewhere. ``PROJECT_TEST`` (JSON) in the
environment becomes the ``TEST`` dict of the ``default`` alias.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

#: The key set in db 0 (and db 1) of the real server before any run.
SENTINEL = "sentinel:real-data"

SETTINGS = """
import json, os

SECRET_KEY = "throwaway"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django_limpyd", "people"]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}}
TEST_RUNNER = "django_limpyd.test.runner.DiscoverRunner"
LIMPYD_DATABASES = {{
    "default": {{"LOCATION": {default!r}}},
    "other": {{"LOCATION": {other!r}}},
}}
if os.environ.get("PROJECT_TEST"):
    LIMPYD_DATABASES["default"]["TEST"] = json.loads(os.environ["PROJECT_TEST"])
"""

MANAGE = """
import multiprocessing
import os
import sys

if __name__ == "__main__":
    if os.environ.get("START_METHOD"):
        multiprocessing.set_start_method(os.environ["START_METHOD"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

MODELS = """
from django_limpyd import fields
from django_limpyd.model import RedisModel


class Person(RedisModel):
    name = fields.InstanceHashField(indexable=True)


class Note(RedisModel):
    database = "other"
    text = fields.StringField()
"""

#: What both runners' passing tests do: create data in each alias, meet the
#: other worker (when RENDEZVOUS_DIR is set) and see only their own data.
SCENARIO = """
import os
import time
from pathlib import Path

from django_limpyd.test.isolation import active
from people.redis_models import Note, Person


def meet(name, other):
    directory = os.environ.get("RENDEZVOUS_DIR")
    if not directory:
        return
    Path(directory, name).write_text(str(os.getpid()))
    deadline = time.monotonic() + 30
    while not Path(directory, other).exists():
        assert time.monotonic() < deadline, f"{other} never ran alongside {name}"
        time.sleep(0.05)


def create_and_check(name, other):
    Person(name=name)
    Note(text=name)
    meet(name, other)
    assert Person.collection().count() == 1, "another process's data is visible"
    assert Note.collection().count() == 1
    assert Person.collection(name=name).count() == 1
    print(f"[{name}] pid={os.getpid()} test databases={active().locations()}", flush=True)
"""

DJANGO_TESTS = """
from django_limpyd.test import TestCase, TransactionTestCase
from people.scenario import create_and_check


class FirstTests(TestCase):
    def test_first(self):
        create_and_check("first", "second")


class SecondTests(TransactionTestCase):
    def test_second(self):
        create_and_check("second", "first")
"""

DJANGO_FAILURES = """
import unittest

from django.test import TestCase as DjangoTestCase

from django_limpyd.test import LimpydTestMixin, SimpleTestCase
from people.redis_models import Person


class CountTests(LimpydTestMixin, DjangoTestCase):
    def test_too_many_commands(self):
        with self.assertNumCommands(1):
            Person(name="counted")
            Person.collection().count()


class BlockedTests(SimpleTestCase):
    def test_touches_redis(self):
        Person.collection().count()


class PlainUnittestTests(unittest.TestCase):
    def test_touches_redis(self):
        Person(name="plain")
"""

PYTEST_INI = """
[pytest]
DJANGO_SETTINGS_MODULE = proj.settings
addopts = -p no:cacheprovider
"""

PYTEST_TESTS = """
import pytest

from people.scenario import create_and_check


def test_first(limpyd_db):
    create_and_check("first", "second")


@pytest.mark.limpyd
def test_second():
    create_and_check("second", "first")
"""

PYTEST_UNITTEST = """
from django_limpyd.test import TransactionTestCase
from people.redis_models import Person


class UnittestStyleTests(TransactionTestCase):
    def test_starts_empty(self):
        self.assertEqual(Person.collection().count(), 0)
        Person(name="unittest")
        with self.assertNumCommands(1):
            self.assertEqual(Person.collection().count(), 1)
"""

PYTEST_WITH_DB = """
import pytest
from django.contrib.contenttypes.models import ContentType

from people.redis_models import Person


def test_sql_and_redis(db, limpyd_db):
    ContentType.objects.create(app_label="tmp", model="tmp")
    Person(name="sql")
    assert ContentType.objects.filter(app_label="tmp").count() == 1
    assert Person.collection().count() == 1


@pytest.mark.django_db
@pytest.mark.limpyd(databases=["default"])
def test_both_markers():
    assert not ContentType.objects.filter(app_label="tmp").exists()
    assert Person.collection().count() == 0
"""

PYTEST_FAILURES = """
import pytest

from people.redis_models import Note, Person


def test_too_many_commands(assert_num_commands):
    with assert_num_commands(1):
        Person(name="counted")
        Person.collection().count()


def test_did_not_ask_for_redis():
    Person.collection().count()


@pytest.mark.limpyd(databases=["default"])
def test_did_not_ask_for_other():
    Note.collection().count()
"""

FILES = {
    "manage.py": MANAGE,
    "pytest.ini": PYTEST_INI,
    "proj/__init__.py": "",
    "people/__init__.py": "",
    "people/redis_models.py": MODELS,
    "people/scenario.py": SCENARIO,
    "people/tests.py": DJANGO_TESTS,
    "people/expected_failures.py": DJANGO_FAILURES,
    "pytests/__init__.py": "",
    "pytests/test_people.py": PYTEST_TESTS,
    "pytests/test_unittest_style.py": PYTEST_UNITTEST,
    "pytests/test_with_db.py": PYTEST_WITH_DB,
    "pytests/failures.py": PYTEST_FAILURES,
}


def make_project(root: Path, real_url: str) -> Path:
    """Write the project in ``root``; its aliases use db 0 and db 1 of ``real_url``."""
    other = real_url.replace("db=0", "db=1")
    for name, text in {
        **FILES,
        "proj/settings.py": SETTINGS.format(default=real_url, other=other),
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (root / "rendezvous").mkdir()
    return root


def run(
    project: Path,
    *args: str,
    stdin: str = "",
    test: str | None = None,
    rendezvous: bool = False,
    settings: str | None = "proj.settings",
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in the project; print (for the issue note) and return it.

    The environment is made from scratch: nothing of the calling test session
    (its DJANGO_SETTINGS_MODULE, its xdist worker) leaks into the run.
    """
    shown_env = {**(env or {}), "PROJECT_TEST": test or ""}
    environment = {
        **(env or {}),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(project)),
        "PYTHONPATH": os.pathsep.join([str(project), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
    }
    if settings is not None:
        environment["DJANGO_SETTINGS_MODULE"] = settings
    if test is not None:
        environment["PROJECT_TEST"] = test
    if rendezvous:
        environment["RENDEZVOUS_DIR"] = str(project / "rendezvous")
    done = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    shown = " ".join(args)
    extra = "".join(f" {key}={value}" for key, value in shown_env.items() if value)
    print(f"\n$ python {shown}{extra}  (stdin: {stdin!r})  -> exit {done.returncode}")
    print(done.stdout.rstrip())
    print(done.stderr.rstrip())
    return done


def keyspace(server: Any) -> dict[int, list[str]]:
    """Every key of every database of ``server``: ``{db: sorted keys}``."""
    client = server.client()
    try:
        dbs = [int(name[2:]) for name in client.info("keyspace")]
    finally:
        client.close()
    result = {}
    for db in sorted(dbs):
        client = server.client(db=db)
        result[db] = sorted(client.keys("*"))
        client.close()
    return result


def connections_received(client: Any) -> int:
    """How many connections the server accepted so far (``INFO stats``)."""
    return int(client.info("stats")["total_connections_received"])


def assert_real_data_untouched(server: Any, **expected_tests: list[str]) -> None:
    """The real server holds its sentinels and nothing else (but ``db5=[...]``)."""
    found = keyspace(server)
    print(f"\nreal server keyspace: {found}")
    wanted = {0: [SENTINEL], 1: [SENTINEL]}
    wanted.update({int(name[2:]): keys for name, keys in expected_tests.items() if keys})
    assert found == wanted
    for db in (0, 1):
        client = server.client(db=db)
        assert client.get(SENTINEL) == f"real data {db}"
        client.close()
