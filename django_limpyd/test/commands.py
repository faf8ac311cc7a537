"""Counting the Redis commands and round trips a block of code sends (client side).

Like Django's ``assertNumQueries``: only the commands of this process's
database client are counted, never other clients of the server::

    with assert_num_commands(1, "default"):
        person.name.get()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django_limpyd.database import RedisDatabase

__all__ = ["CommandRecorder", "assert_num_commands", "count_commands", "resolve_database"]


def resolve_database(database: RedisDatabase | str | type | None) -> RedisDatabase:
    """A database from an alias, a database, a model, or ``None`` (``"default"``)."""
    if database is None:
        database = "default"
    if isinstance(database, str):
        from django_limpyd.connections import databases

        return databases[database]
    if isinstance(database, type) and hasattr(database, "_meta"):
        return database._meta.database
    return database


class CommandRecorder:
    """Records each round trip of one database, from this thread only."""

    def __init__(self, database: RedisDatabase) -> None:
        self.database = database
        self.round_trips: list[list[tuple[Any, ...]]] = []
        self._thread = threading.get_ident()

    def __call__(self, commands: Sequence[tuple[Any, ...]], duration: float) -> None:
        if threading.get_ident() == self._thread:
            self.round_trips.append([tuple(command) for command in commands])

    @property
    def commands(self) -> list[tuple[Any, ...]]:
        """Every command sent, in order (pipelines flattened)."""
        return [command for trip in self.round_trips for command in trip]

    @property
    def num_commands(self) -> int:
        """How many commands were sent."""
        return len(self.commands)

    @property
    def num_round_trips(self) -> int:
        """How many round trips (a pipeline is one)."""
        return len(self.round_trips)

    def describe(self) -> str:
        """The commands, one per line, numbered by round trip."""
        lines = []
        for number, trip in enumerate(self.round_trips, 1):
            for command in trip:
                shown = " ".join(_short(part) for part in command)
                lines.append(f"{number}. {shown}")
        return "\n".join(lines) or "(none)"


def _short(part: Any, limit: int = 60) -> str:
    text = part.decode(errors="replace") if isinstance(part, bytes) else str(part)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def count_commands(database: RedisDatabase | str | type | None = None) -> Iterator[CommandRecorder]:
    """Record the commands sent to ``database`` inside the block."""
    db = resolve_database(database)
    recorder = CommandRecorder(db)
    db.add_observer(recorder)
    try:
        yield recorder
    finally:
        db.remove_observer(recorder)


@contextmanager
def assert_num_commands(
    num: int,
    database: RedisDatabase | str | type | None = None,
    *,
    round_trips: int | None = None,
) -> Iterator[CommandRecorder]:
    """Fail unless the block sends exactly ``num`` commands (and ``round_trips``)."""
    with count_commands(database) as recorder:
        yield recorder
    problems = []
    if recorder.num_commands != num:
        problems.append(f"{recorder.num_commands} commands sent, {num} expected")
    if round_trips is not None and recorder.num_round_trips != round_trips:
        problems.append(f"{recorder.num_round_trips} round trips, {round_trips} expected")
    if problems:
        raise AssertionError("; ".join(problems) + ":\n" + recorder.describe())
