"""What a call of a compiled library looks like on the wire: ``FCALL`` (``FCALL_RO`` for
reads) on Redis 7, ``EVALSHA`` of the same library as a script on Redis 6.2.

:func:`wire` turns the names a test expects on Redis 7 into the names sent to the
suite's redis-server (:func:`redis_server_version`, the binary every private server of
the session runs), so that the same exact assertion holds on both."""

from __future__ import annotations

import functools
import re
import subprocess
from typing import Any

FUNCTION_CALLS = ("FCALL", "FCALL_RO", "EVALSHA", "EVALSHA_RO")


@functools.cache
def redis_server_version() -> tuple[int, ...]:
    """The version of the redis-server binary the session runs (``redis-server
    --version`` of :func:`django_limpyd.servers.find_redis_server`), e.g. ``(7, 0, 15)``."""
    from django_limpyd.servers import find_redis_server

    output = subprocess.run(
        [find_redis_server(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"v=(\d+(?:\.\d+)*)", output)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def wire(expected: Any) -> Any:
    """``expected`` (a command name, or a list of them, nested or not) as sent to the
    suite's redis-server: unchanged on Redis 7 (functions); on Redis 6.2 (scripts)
    ``FCALL`` and ``FCALL_RO`` are ``EVALSHA``."""
    if isinstance(expected, list | tuple):
        return type(expected)(wire(item) for item in expected)
    if expected in ("FCALL", "FCALL_RO") and redis_server_version() < (7,):
        return "EVALSHA"
    return expected
