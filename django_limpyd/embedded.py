"""The embedded Redis: ``embedded://`` locations, like SQLite for Django.

``"LOCATION": "embedded://var/redis"`` makes django_limpyd run a real
redis-server in the directory ``var/redis`` (relative to ``settings.BASE_DIR``;
``embedded:///abs/path`` for an absolute one; ``?db=N`` picks the database).
The server listens only on the unix socket ``redis.sock`` of that directory,
persists to an append-only file and RDB snapshots there, and is started on
first use by whichever process needs it first. It is detached from that
process (daemonized, in its own session), so every later process (the
autoreloader of runserver, shells, test workers) reuses it. A lock file
(``flock``) makes the check-and-start atomic across processes.

(This module passes ~400 lines: locating, starting, checking, stopping and the
command line of one server are kept together, each a small function.)

Stop it with :func:`stop_server`, ``python -m django_limpyd.embedded stop DIR``
or ``manage.py limpyd_embedded stop``. See docs/embedded.rst.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import redis
from django.core.exceptions import ImproperlyConfigured

from django_limpyd.client import no_retry
from django_limpyd.exceptions import LimpydException
from django_limpyd.servers import (
    check_socket_path,
    find_redis_server,
    ping,
    wait_for_server,
    write_config,
)

__all__ = [
    "SCHEME",
    "EmbeddedServerError",
    "connection_url",
    "ensure_server",
    "format_status",
    "main",
    "parse_location",
    "server_status",
    "stop_server",
]

SCHEME = "embedded://"

#: Files kept in the server directory (besides Redis's own persistence files).
SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
CONFIG_NAME = "redis.conf"
LOCK_NAME = "redis.lock"

#: Seconds allowed for a server to answer after being started (or while loading).
START_TIMEOUT = 15.0
#: Seconds allowed for a server to exit after SHUTDOWN / SIGTERM, before SIGKILL.
STOP_TIMEOUT = 15.0
#: Number of databases of an embedded server (valid ``?db=`` are 0 to this - 1).
DATABASE_COUNT = 16


class EmbeddedServerError(LimpydException, RuntimeError):
    """The embedded redis-server could not be started, or does not answer."""


# -- locations ------------------------------------------------------------------------


def parse_location(location: str) -> tuple[Path, int]:
    """Return the server directory and the db number of an ``embedded://`` location.

    A relative path is relative to ``settings.BASE_DIR``. Raises
    ``ImproperlyConfigured`` naming ``location`` if it cannot be used.
    """
    if not isinstance(location, str) or not location.startswith(SCHEME):
        raise ImproperlyConfigured(f"{location!r} is not an {SCHEME} location.")
    raw_path, _, query = location[len(SCHEME) :].partition("?")
    path = unquote(raw_path)
    if not path:
        raise ImproperlyConfigured(f"The embedded location {location!r} names no directory.")
    return _resolve_directory(location, path), _parse_db(location, query)


def _parse_db(location: str, query: str) -> int:
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"The query of the embedded location {location!r} cannot be parsed: {exc}."
        ) from exc
    unknown = set(params) - {"db"}
    if unknown:
        raise ImproperlyConfigured(
            f"The embedded location {location!r} has unknown parameter(s) "
            f"{', '.join(sorted(unknown))}; only db is accepted."
        )
    values = params.get("db", ["0"])
    text = values[-1]
    if len(values) > 1 or not (text.isascii() and text.isdigit()) or int(text) >= DATABASE_COUNT:
        raise ImproperlyConfigured(
            f"The embedded location {location!r} has db={','.join(values)}; "
            f"db must be an integer from 0 to {DATABASE_COUNT - 1}."
        )
    return int(text)


def _resolve_directory(location: str, path: str) -> Path:
    if os.path.isabs(path):
        return Path(os.path.normpath(path))
    from django.conf import settings

    base_dir = getattr(settings, "BASE_DIR", None) if settings.configured else None
    if not base_dir:
        raise ImproperlyConfigured(
            f"The embedded location {location!r} is relative to settings.BASE_DIR, which "
            f"is not set. Set BASE_DIR or write an absolute path ({SCHEME}/abs/dir)."
        )
    return Path(os.path.normpath(os.path.join(base_dir, path)))


def connection_url(location: str, where: str | None = None) -> str:
    """Return a redis-py URL for ``location``, starting its server if needed.

    ``where`` names the setting holding ``location`` (e.g.
    ``LIMPYD_DATABASES['default']['LOCATION']``) at the start of error messages.
    """
    try:
        directory, db = parse_location(location)
        socket_path = ensure_server(directory, location=location)
    except (ImproperlyConfigured, EmbeddedServerError) as exc:
        if where is None:
            raise
        raise type(exc)(f"{where} = {location!r}: {exc}") from exc
    return f"unix://{quote(socket_path)}?db={db}"


# -- processes ------------------------------------------------------------------------


def _process_running(pid: int) -> bool:
    """True if ``pid`` is a live process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS) or it just exited: kill(0) said it was there
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _is_server_of(pid: int, directory: Path) -> bool:
    """True if ``pid`` is alive and (where /proc tells) the redis-server of ``directory``."""
    if not _process_running(pid):
        return False
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    # redis-server shows its socket in its process title, else its config path
    names = (directory / SOCKET_NAME, directory / CONFIG_NAME)
    return any(os.fsencode(name) in command_line for name in names)


def _server_pid(directory: Path) -> int | None:
    """The pid of the live server written in the pid file of ``directory``, if any."""
    try:
        pid = int((directory / PID_NAME).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_server_of(pid, directory) else None


def _wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _answering(directory: Path, socket_path: str) -> bool:
    """True if the server of ``directory`` answers PING at ``socket_path``."""
    if (directory / PID_NAME).exists() and _server_pid(directory) is None:
        return False  # the pid file of a server that is gone: its socket is stale too
    return ping(unix_socket_path=socket_path)


def _client(socket_path: str, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis(
        unix_socket_path=socket_path,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=no_retry(),
    )


def _server_info(socket_path: str) -> dict[str, Any]:
    client = _client(socket_path)
    try:
        return client.info("server")
    finally:
        client.close()


def _log_tail(directory: Path, lines: int = 5) -> str:
    try:
        tail = (directory / LOG_NAME).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "\n".join(tail) or "(empty log)"


@contextlib.contextmanager
def _directory_lock(directory: Path, timeout: float) -> Iterator[None]:
    """Hold the exclusive ``flock`` of ``directory`` (across processes and threads)."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"Another process has held {directory / LOCK_NAME} for more than "
                        f"{timeout:g} s (starting or stopping the embedded redis-server)."
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_stale_files(directory: Path) -> None:
    for name in (PID_NAME, SOCKET_NAME):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


# -- start ----------------------------------------------------------------------------


def _directives(directory: Path, socket_path: str) -> dict[str, Any]:
    """The redis.conf of an embedded server (RDB snapshots keep the binary's defaults)."""
    return {
        "daemonize": "yes",
        "port": 0,
        "unixsocket": socket_path,
        "unixsocketperm": 700,
        "dir": str(directory),
        "pidfile": str(directory / PID_NAME),
        "logfile": str(directory / LOG_NAME),
        "appendonly": "yes",
        "appendfsync": "everysec",
        "dbfilename": "dump.rdb",
        "databases": DATABASE_COUNT,
    }


def _start(directory: Path, socket_path: str, binary: str, timeout: float) -> None:
    """Launch a daemonized redis-server in ``directory`` and wait until it answers."""
    config = write_config(directory / CONFIG_NAME, _directives(directory, socket_path))
    try:
        launcher = subprocess.run(
            [binary, str(config)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedServerError(f"Could not run {binary} for {directory}: {exc}") from exc
    if launcher.returncode != 0:
        message = launcher.stderr.decode(errors="replace").strip() or _log_tail(directory)
        raise EmbeddedServerError(
            f"{binary} refused to start in {directory} (exit {launcher.returncode}):\n{message}"
        )

    def still_starting() -> bool:
        # no pid file yet: still starting; the pid file of a process that is gone: failed
        return not (directory / PID_NAME).exists() or _server_pid(directory) is not None

    try:
        wait_for_server(unix_socket_path=socket_path, timeout=timeout, alive=still_starting)
    except (RuntimeError, TimeoutError) as exc:
        raise EmbeddedServerError(
            f"The embedded redis-server of {directory} did not start ({exc}). "
            f"End of {directory / LOG_NAME}:\n{_log_tail(directory)}"
        ) from exc


def ensure_server(
    directory: str | os.PathLike[str],
    *,
    location: str | None = None,
    binary: str | None = None,
    timeout: float = START_TIMEOUT,
) -> str:
    """Return the socket path of the server of ``directory``, starting it if needed.

    ``location`` (the setting value) is named in errors; ``binary`` overrides
    the redis-server found by :func:`~django_limpyd.servers.find_redis_server`.
    """
    directory = Path(os.path.abspath(directory))
    origin = f"the embedded location {location!r}" if location else "the embedded server"
    socket_path = check_socket_path(directory / SOCKET_NAME, location or "")
    if _answering(directory, socket_path):
        return socket_path
    binary = _binary_for(origin, binary)  # before creating anything: no lock file left
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        (directory / LOCK_NAME).touch(mode=0o600)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Cannot create the directory {str(directory)!r} of {origin}, or write in it: "
            f"{exc.strerror or exc}."
        ) from exc
    with _directory_lock(directory, timeout + 5):
        if _answering(directory, socket_path):
            return socket_path  # another process started it while we waited
        if _server_pid(directory) is not None and _answers_soon(directory, socket_path, timeout):
            return socket_path  # it was loading its data, or just starting
        _remove_stale_files(directory)  # left by a crash
        _start(directory, socket_path, binary, timeout)
    return socket_path


def _binary_for(origin: str, binary: str | None) -> str:
    try:
        return os.path.abspath(find_redis_server(binary))  # the server runs in its directory
    except ImproperlyConfigured as exc:
        configured = str(exc).startswith("LIMPYD_REDIS_SERVER")  # a wrong path: no install hint
        hint = (
            ""
            if configured
            else (" The section 'Which redis-server' of docs/embedded.rst says how to install one.")
        )
        raise ImproperlyConfigured(
            f"Cannot start the redis-server of {origin}: {exc}{hint}"
        ) from exc


def _answers_soon(directory: Path, socket_path: str, timeout: float) -> bool:
    """Wait for the live server of ``directory`` to answer; False if it exits instead."""
    try:
        wait_for_server(
            unix_socket_path=socket_path,
            timeout=timeout,
            alive=lambda: _server_pid(directory) is not None,
        )
    except RuntimeError:
        return False
    except TimeoutError as exc:
        raise EmbeddedServerError(
            f"The redis-server of {directory} (pid {_server_pid(directory)}) is running but "
            f"does not answer at {socket_path}; stop it (python -m django_limpyd.embedded "
            f"stop {directory}) and try again. End of its log:\n{_log_tail(directory)}"
        ) from exc
    return True


# -- stop and status ------------------------------------------------------------------


def stop_server(directory: str | os.PathLike[str], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the server of ``directory``; True if one was running.

    Sends SHUTDOWN (which saves), else SIGTERM to the pid of the pid file, and
    waits until the process is gone (SIGKILL after ``timeout`` seconds).
    """
    directory = Path(os.path.abspath(directory))
    if not any((directory / name).exists() for name in (CONFIG_NAME, PID_NAME, SOCKET_NAME)):
        return False  # no server was ever started here
    socket_path = str(directory / SOCKET_NAME)
    with _directory_lock(directory, timeout + START_TIMEOUT):
        pid = _server_pid(directory)
        answering = _answering(directory, socket_path)
        if answering:
            with contextlib.suppress(redis.RedisError):
                pid = int(_server_info(socket_path)["process_id"])
            _shutdown(socket_path, pid)
        elif pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # in case it was paused
                os.kill(pid, signal.SIGTERM)
        if pid is not None and not _wait_until_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_until_gone(pid, 5)
        _remove_stale_files(directory)
    return answering or pid is not None


def _shutdown(socket_path: str, pid: int | None) -> None:
    client = _client(socket_path, STOP_TIMEOUT)
    try:
        client.shutdown()
    except redis.RedisError:
        if pid is not None:  # SHUTDOWN refused (e.g. a failing save)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    finally:
        client.close()


def server_status(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe the server of ``directory``.

    Keys: ``directory``, ``socket``, ``log``, ``running`` (it answers PING),
    ``pid`` (also of a live server that does not answer yet), ``version``,
    ``run_id``, ``uptime_seconds``, ``executable`` (these four ``None`` when
    not running) and ``stale_files`` (a pid file or socket left behind by a
    server that is gone).
    """
    directory = Path(os.path.abspath(directory))
    socket_path = str(directory / SOCKET_NAME)
    status: dict[str, Any] = {
        "directory": str(directory),
        "socket": socket_path,
        "log": str(directory / LOG_NAME),
        "running": False,
        "pid": _server_pid(directory),
        "version": None,
        "run_id": None,
        "uptime_seconds": None,
        "executable": None,
        "stale_files": False,
    }
    info: dict[str, Any] = {}
    if _answering(directory, socket_path):
        with contextlib.suppress(redis.RedisError):
            info = _server_info(socket_path)
    if info:
        status.update(
            running=True,
            pid=int(info["process_id"]),
            version=str(info["redis_version"]),
            run_id=info["run_id"],
            uptime_seconds=int(info["uptime_in_seconds"]),
            executable=info.get("executable"),
        )
    elif status["pid"] is None:
        leftovers = (directory / PID_NAME, directory / SOCKET_NAME)
        status["stale_files"] = any(path.exists() for path in leftovers)
    return status


# -- command line ---------------------------------------------------------------------


def format_status(status: dict[str, Any]) -> str:
    """Render :func:`server_status` as ``key: value`` lines."""
    return "\n".join(f"{key}: {'-' if value is None else value}" for key, value in status.items())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m django_limpyd.embedded {start,stop,status} DIR``.

    Exit status: 0 on success; ``status`` exits with 3 when no server runs;
    1 when the server cannot be started.
    """
    parser = argparse.ArgumentParser(
        prog="python -m django_limpyd.embedded",
        description="Start, stop or describe the embedded redis-server of a directory.",
    )
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("directory", help="the server directory (the path of the location)")
    parser.add_argument(
        "--redis-server", metavar="PATH", help="redis-server binary to start (default: found)"
    )
    args = parser.parse_args(argv)
    if args.action == "start":
        try:
            socket_path = ensure_server(args.directory, binary=args.redis_server)
        except (ImproperlyConfigured, EmbeddedServerError) as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"running: unix://{quote(socket_path)}?db=0")
        return 0
    if args.action == "stop":
        print("stopped" if stop_server(args.directory) else "not running")
        return 0
    status = server_status(args.directory)
    print(format_status(status))
    return 0 if status["running"] else 3


if __name__ == "__main__":
    sys.exit(main())
