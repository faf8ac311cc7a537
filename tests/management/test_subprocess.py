"""The commands as ``python manage.py ...`` subprocesses on the demo project.

The demo project is pointed (``LIMPYD_REDIS_URL``) at db 9 of the session's
private server, so nothing of the tests' db 0 and 1 is touched. Data of the
demo models is written by ``manage.py shell -c`` through each model's key
layout (``_meta.keys``), whatever fields the demo models declare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DB = 9

#: gives one instance (pk "t*1") to every demo model; prints {label: [its keys]}
SEED = """
import json
from django_limpyd import registry
made = {}
for model in registry.get_models("demo"):
    keys, connection = model._meta.keys, model._meta.database.connection
    connection.zadd(keys.pks, {"t*1": 0})
    connection.hset(keys.instance_hash("t*1"), "not_a_field", "x")
    made[model._meta.label] = sorted([keys.pks, keys.instance_hash("t*1")])
print(json.dumps(made))
"""


def db_url(url: str) -> str:
    """``url`` (of db 0) for db ``DB``."""
    return url.replace("db=0", f"db={DB}") if "db=0" in url else url.rsplit("/", 1)[0] + f"/{DB}"


def manage_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "LIMPYD_REDIS_URL": url,
    }


def manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` of the demo project on the Redis ``url``."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(url),
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture
def demo(redis_server):
    """``(url of db 9, decoded client of db 9)``."""
    client = redis_server.client(db=DB)
    yield db_url(redis_server.url), client
    client.close()


def test_scan(demo, redis_server):
    url, client = demo
    client.set("demo:visits", "3")
    client.sadd("demo:a*b", "x")
    client.set("other", "1", ex=100)
    done = manage(url, "limpyd_scan", "--match", "demo:*", "--type", "--ttl")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        f"{'set':<6} {'-':>8} demo:a*b",
        f"{'string':<6} {'-':>8} demo:visits",
    ]
    assert done.stderr.strip() == "2 keys on the 'default' database."
    assert manage(url, "limpyd_scan", "--match", "demo:a\\*b").stdout == "demo:a*b\n"
    assert redis_server.client().dbsize() == 0  # the session's db 0 was not touched


def test_models_index_check_and_flush_of_the_demo_models(demo):
    url, client = demo
    client.set("demo:visits", "3")
    seeded = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SEED],
        cwd=ROOT,
        env=manage_env(url),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert seeded.returncode == 0, seeded.stderr
    made = json.loads(seeded.stdout.splitlines()[-1])
    if not made:
        pytest.skip("the demo app defines no Redis model: nothing to flush")

    done = manage(url, "limpyd_models", "--memory")
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split()[:2]): line.split() for line in done.stdout.splitlines()[1:]}
    for label in made:
        assert rows[tuple(label.split("."))][2:6] == ["default", "demo", "1", "2"]

    done = manage(url, "limpyd_index", "check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{label}: OK" for label in made]

    flushed, *kept = made
    done = manage(url, "limpyd_scan", "--model", flushed)
    assert sorted(done.stdout.splitlines()) == made[flushed]
    done = manage(url, "limpyd_flush", flushed, "--noinput")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{flushed}: 2 keys deleted.",
        "Flushed 2 keys from the 'default' database.",
    ]
    remaining = sorted(client.keys("*"))
    assert remaining == sorted(["demo:visits", *(key for label in kept for key in made[label])])


def test_flush_refuses_an_unknown_model_and_deletes_nothing(demo):
    url, client = demo
    client.set("demo:visits", "3")
    done = manage(url, "limpyd_flush", "demo.Visit", "--noinput")
    assert done.returncode == 1
    assert "CommandError: Unknown Redis model 'demo.Visit'. Known models: " in done.stderr
    assert client.keys("*") == ["demo:visits"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["limpyd_scan", "--database", "other"], "invalid choice: 'other'"),
        (["limpyd_scan", "--count", "0"], "CommandError: --count must be a positive integer"),
        (["limpyd_index", "check", "demo"], "CommandError: 'demo' is not a label"),
    ],
)
def test_bad_input_exits_non_zero(demo, args, message):
    done = manage(demo[0], *args)
    assert done.returncode != 0 and message in done.stderr, done.stderr


def test_unreachable_server(tmp_path):
    done = manage(f"unix://{tmp_path}/nothing.sock?db=0", "limpyd_scan")
    assert done.returncode == 1
    assert "CommandError: Cannot reach the Redis server of the 'default' database" in done.stderr
    assert "Hint: is the server running, and does LIMPYD_DATABASES['default'] point at it?" in (
        done.stderr
    )


#: the demo's data as its home page makes it (visits counted, people added by its form,
#: one deleted: a hole in the pks); prints the consistency check of every demo model
DEMO_DATA = """
from django.test import Client
from django.test.utils import setup_test_environment
from testproject.demo.redis_models import Person
setup_test_environment()
client = Client()
for _ in range(3):
    assert client.get("/").status_code == 200
for name, city, year, tags in [
    ("Ann", "Paris", 1980, "a, b"), ("Bob", "Rome", 1975, "b"),
    ("Chloé", "Paris", 2001, ""), ("Dan", "Oslo", 1990, "c, a"), ("Eve", "Rome", 1999, ""),
]:
    response = client.post("/", {"name": name, "city": city, "birth_year": year, "tags": tags})
    assert response.status_code == 302, response.content
Person.objects.get(name="Dan").delete()
"""

CONSISTENCY = """
import json
from django_limpyd import registry
from django_limpyd.consistency import consistency_check
print(json.dumps({m._meta.label: consistency_check(m) for m in registry.get_models("demo")}))
"""


def test_dump_flush_load_round_trip_of_the_demo_data(demo, tmp_path):
    """``limpyd_dump > file``, ``limpyd_flush``, ``limpyd_load file`` of the demo
    project's models: the same keys with the same contents, and clean consistency
    checks."""
    from tests.tools.keyspace import contents

    url, client = demo
    client.flushdb()

    def shell(code: str) -> str:
        done = manage(url, "shell", "--no-imports", "-c", code)
        assert done.returncode == 0, done.stderr
        return done.stdout

    shell(DEMO_DATA)
    before = contents(client)
    checks = json.loads(shell(CONSISTENCY).splitlines()[-1])
    assert checks and all(problems == [] for problems in checks.values()), checks

    labels = sorted(checks)  # demo.Page, demo.Person
    dumped = manage(url, "limpyd_dump", *labels, "--chunk-size", "2")
    assert dumped.returncode == 0, dumped.stderr
    objects = json.loads(dumped.stdout)
    assert sorted(obj["model"] for obj in objects) == ["demo.page"] + ["demo.person"] * 4
    assert "demo.Person: 4 instances dumped." in dumped.stderr.splitlines()
    path = tmp_path / "demo.json"
    path.write_text(dumped.stdout)
    print(f"\nbefore: {len(before)} keys; consistency_check: {checks}")
    print("  " + dumped.stderr.strip().replace("\n", "\n  "))

    done = manage(url, "limpyd_flush", *labels, "--noinput")
    assert done.returncode == 0, done.stderr
    assert all(key.endswith("}:max") for key in client.keys("*")), client.keys("*")

    loaded = manage(url, "limpyd_load", str(path), "--chunk-size", "2")
    assert loaded.returncode == 0, loaded.stderr
    assert "Installed 5 objects." in loaded.stdout
    after = contents(client)
    print(f"after: {len(after)} keys; {loaded.stdout.strip()}")
    assert sorted(after) == sorted(before)  # the same key names
    assert after == before  # of the same types, with the same contents
    assert json.loads(shell(CONSISTENCY).splitlines()[-1]) == checks
    client.flushdb()
