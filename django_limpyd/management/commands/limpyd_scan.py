"""``manage.py limpyd_scan [--database A] [--match P] [--count N] [--model app.Model]
[--type] [--ttl]``.

Lists keys with SCAN (never KEYS), one per line on stdout; the number of keys
goes to stderr, so that stdout can be piped. ``--model`` keeps exactly the keys
of one model (its ``scan_pattern``; with ``--match``, the SCAN uses the user's
pattern and only the model's keys are kept: keys match both). ``--type`` and
``--ttl`` add columns, read with one pipeline per chunk of keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand


def show_key(key: str) -> str:
    """``key`` as written on a line: as is, or its ``repr`` if it holds control characters."""
    return key if key.isprintable() else repr(key)


def show_ttl(ttl: int) -> str:
    """A TTL reply for humans: seconds, ``-`` (no expiry) or ``gone`` (deleted meanwhile)."""
    if ttl == -1:
        return "-"
    if ttl == -2:
        return "gone"
    return str(ttl)


class Command(LimpydCommand):
    help = (
        "Lists the keys of a Redis database with SCAN (never KEYS): every key, those "
        "matching a glob pattern, or exactly those of one model; optionally with their "
        "type and TTL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--match",
            metavar="PATTERN",
            help="Only keys matching this Redis glob pattern (SCAN MATCH: *, ?, [abc], "
            "\\ escapes).",
        )
        parser.add_argument(
            "--count",
            type=int,
            default=self.chunk_size,
            metavar="N",
            help=f"The SCAN COUNT hint, also the size of pipelined chunks "
            f"(default {self.chunk_size}).",
        )
        parser.add_argument(
            "--model",
            metavar="app_label.ModelName",
            help="Only the keys of this model (instances, indexes, counters, collections); "
            "it must live on --database.",
        )
        parser.add_argument(
            "--type",
            action="store_true",
            dest="show_type",
            help="Add a column with the Redis type of each key.",
        )
        parser.add_argument(
            "--ttl",
            action="store_true",
            dest="show_ttl",
            help="Add a column with the TTL of each key in seconds ('-': no expiry).",
        )

    def handle(
        self,
        *args: Any,
        database: str,
        match: Any = None,
        count: Any = None,
        model: Any = None,
        show_type: bool = False,
        show_ttl: bool = False,
        **options: Any,
    ) -> None:
        db = self.get_database(database)
        if match is not None and (not isinstance(match, str) or not match):
            raise CommandError(f"--match must be a non-empty glob pattern string, got {match!r}.")
        count = self.check_positive("count", count)
        scans: list[tuple[Any, Any]] = [(match, None)]  # (MATCH pattern, key filter)
        if model is not None:
            model_class = self.resolve_model(model)
            self.model_database(model_class, database)
            scans = []
            for stored in model_class._meta.stored_models:  # a sharded model: each shard
                keys = stored._meta.keys
                # SCAN has one MATCH: with --match, the model's keys are kept here
                scans.append((keys.scan_pattern, None) if match is None else (match, keys.owns))
        connection = db.connection
        total = 0
        for pattern, owns in scans:
            for chunk in self.scan_chunks(db, pattern, count):
                if owns is not None:
                    chunk = [key for key in chunk if owns(key)]
                if not chunk:
                    continue
                total += len(chunk)
                columns = self._columns(connection, chunk, show_type, show_ttl)
                for key, extra in zip(chunk, columns, strict=True):
                    self.stdout.write(" ".join([*extra, show_key(key)]))
        if self.verbosity >= 1:
            self.stderr.write(
                f"{total} key{'' if total == 1 else 's'} on the {database!r} database."
            )

    @staticmethod
    def _columns(connection: Any, chunk: list[str], types: bool, ttls: bool) -> list[list[str]]:
        """``[type, ttl]`` columns for each key of ``chunk`` (one pipeline)."""
        if not (types or ttls):
            return [[] for _ in chunk]
        pipe = connection.pipeline(transaction=False)
        for key in chunk:
            if types:
                pipe.type(key)
            if ttls:
                pipe.ttl(key)
        replies = iter(pipe.execute())
        columns = []
        for _key in chunk:
            row = []
            if types:
                row.append(f"{next(replies):<6}")
            if ttls:
                row.append(f"{show_ttl(next(replies)):>8}")
            columns.append(row)
        return columns
