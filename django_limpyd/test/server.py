"""Private ``redis-server`` processes for test sessions and reliability tests.

A :class:`PrivateRedisServer` runs as a child process in its own directory, on
a unix socket (default) or a free loopback port, without persistence unless
asked. Tests can stop it for good, SIGKILL it, pause and resume it, and
restart it from its persistence file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import redis

from django_limpyd.servers import (
    check_socket_path,
    find_redis_server,
    wait_for_server,
    write_config,
)

__all__ = ["PrivateRedisServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedisServer:
    """A redis-server child process owned by the caller."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        tcp: bool = False,
        persistence: str | None = None,
        binary: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if persistence not in (None, "aof", "rdb"):
            raise ValueError(f"persistence must be None, 'aof' or 'rdb', got {persistence!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.binary = binary or find_redis_server()
        self.port: int | None = free_port() if tcp else None
        self.unix_socket_path: str | None = (
            None if tcp else check_socket_path(self.directory / "redis.sock")
        )
        self.persistence = persistence
        self.extra = extra or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The pid of the running server."""
        return self.process.pid if self.process else None

    @property
    def url(self) -> str:
        """A redis-py URL of db 0 of this server."""
        if self.unix_socket_path:
            return f"unix://{self.unix_socket_path}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis`` / ``RedisDatabase``."""
        if self.unix_socket_path:
            return {"unix_socket_path": self.unix_socket_path}
        return {"host": "127.0.0.1", "port": self.port}

    def client(self, **kwargs: Any) -> redis.Redis:
        """A plain decoded redis-py client of this server."""
        return redis.Redis(**self.connection_kwargs(), decode_responses=True, **kwargs)

    def _config(self) -> Path:
        directives: dict[str, Any] = {
            "port": self.port or 0,
            "bind": "127.0.0.1",
            "unixsocket": self.unix_socket_path,
            "unixsocketperm": 700 if self.unix_socket_path else None,
            "dir": str(self.directory),
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            "logfile": str(self.directory / "redis.log"),
        }
        if self.persistence == "aof":
            directives.update(appendonly="yes", appendfsync="always")
        elif self.persistence == "rdb":
            directives.update(save="1 1", dbfilename="dump.rdb")
        directives.update(self.extra)
        return write_config(self.directory / "redis.conf", directives)

    def start(self, timeout: float = 15.0) -> PrivateRedisServer:
        """Start the server (again, from its persistence file if any) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            return self
        if self.unix_socket_path and os.path.exists(self.unix_socket_path):
            os.unlink(self.unix_socket_path)
        self.process = subprocess.Popen(
            [self.binary, str(self._config())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        process = self.process
        wait_for_server(
            unix_socket_path=self.unix_socket_path,
            port=self.port,
            timeout=timeout,
            alive=lambda: process.poll() is None,
        )
        return self

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the server process."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save) and reap it."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the server stops answering but keeps its connections open."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self.signal(signal.SIGCONT)

    def restart(self) -> PrivateRedisServer:
        """SIGKILL then start again in the same directory (reloading persistence)."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        """Stop the server for good (SIGCONT first in case it was paused)."""
        if self.process is None:
            return
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def __enter__(self) -> PrivateRedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
