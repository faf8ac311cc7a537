"""What a Redis db holds, for comparing before and after: every key with its type and
content (no ``DUMP``: equal data written in another order compares equal)."""

from __future__ import annotations

from typing import Any

import redis

__all__ = ["contents"]


def contents(client: redis.Redis) -> dict[Any, tuple[str, Any]]:
    """Every key of the client's db with its type and content."""
    read = {
        "string": client.get,
        "set": client.smembers,
        "list": lambda key: client.lrange(key, 0, -1),
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        "hash": client.hgetall,
    }
    result = {}
    for key in client.keys("*"):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        result[key] = (kind, read[kind](key))
    return result
