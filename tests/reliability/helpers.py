"""Helpers of the reliability suite: key-space snapshots and one-line summaries."""

from __future__ import annotations

import time
from typing import Any

import redis

Snapshot = dict[bytes, Any]


def dumps(raw: redis.Redis) -> dict[bytes, bytes]:
    """Every key of ``raw``'s database with its ``DUMP`` (``raw`` must not decode)."""
    keys = list(raw.scan_iter(count=1000))
    pipe = raw.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
    return dict(zip(keys, pipe.execute(), strict=True))


def snapshot(raw: redis.Redis) -> Snapshot:
    """Every key of ``raw``'s database with its ``DUMP``, to compare states.

    A ``DUMP`` is byte for byte the same for the same content, except for a
    hash table (a set of strings, a big hash): Redis serializes it in bucket
    order, which a RESTORE or an incremental rehash (a read, the server's
    cron) may change. Such a key is compared by its sorted content instead.
    """
    state: Snapshot = dict(dumps(raw))
    pipe = raw.pipeline(transaction=False)
    for key in state:
        pipe.object("encoding", key)
    for key, encoding in zip(list(state), pipe.execute(), strict=True):
        if encoding in (b"hashtable", "hashtable"):
            kind = raw.type(key)
            if kind == b"set":
                state[key] = ("set", tuple(sorted(raw.smembers(key))))
            else:
                state[key] = (kind.decode(), tuple(sorted(raw.hgetall(key).items())))
    return state


def restore(raw: redis.Redis, state: dict[bytes, bytes]) -> None:
    """Make ``raw``'s database hold exactly ``state`` (from :func:`dumps`)."""
    pipe = raw.pipeline(transaction=True)
    pipe.flushdb()
    for key, dumped in state.items():
        pipe.restore(key, 0, dumped)
    pipe.execute()


def diff(before: Snapshot, after: Snapshot) -> str:
    """The keys that differ between two snapshots, for assertion messages."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(key for key in set(before) & set(after) if before[key] != after[key])

    def shown(keys: list[bytes]) -> str:
        more = f" +{len(keys) - 3} more" if len(keys) > 3 else ""
        return "[" + ", ".join(key.decode(errors="replace") for key in keys[:3]) + more + "]"

    return f"added {shown(added)}, removed {shown(removed)}, changed {shown(changed)}"


def summary(name: str, started: float, **numbers: Any) -> None:
    """Print one line for ``pytest -s``: what the test did, its counts, its time."""
    details = ", ".join(f"{key}={value}" for key, value in numbers.items())
    print(f"\n[reliability] {name}: {details}, time={time.perf_counter() - started:.2f}s")


def acknowledged_outcome(reports: list[dict[str, Any]], stored: dict[str, str]) -> dict[str, Any]:
    """What became of the writes failover workers saw acknowledged: ``reports`` have
    ``acknowledged`` (``{token: pk}``) and ``failures`` (times); ``stored`` is ``{token:
    pk}`` read after recovery. Counts of acknowledged, found, lost (missing or with
    another pk), pks acknowledged twice, failed writes, and the outage (first to last
    failure, seconds)."""
    from collections import Counter

    acknowledged = {token: pk for report in reports for token, pk in report["acknowledged"].items()}
    failures = sorted(moment for report in reports for moment in report["failures"])
    return {
        "acknowledged": len(acknowledged),
        "found_after": len(stored),
        "lost": sum(1 for token, pk in acknowledged.items() if stored.get(token) != pk),
        "reused_pks": sum(1 for times in Counter(acknowledged.values()).values() if times > 1),
        "failed_writes": len(failures),
        "outage_seconds": round(failures[-1] - failures[0], 2) if failures else 0.0,
    }
