"""``manage.py limpyd_load FILE [FILE ...] [--database A] [--chunk-size N]``.

Creates the instances written by ``limpyd_dump`` (Django's ``dumpdata`` shape),
with their pks, through the models' writes: index entries and uniqueness checks
are done by the writes themselves, one pipeline per chunk. Files are streamed
(:mod:`django_limpyd.management.jsonstream`): read twice, one object at a time,
first to check every object (model, pk, fields, no pk that exists or is given
twice) before the first write, then to write them. Standard input (``-``) is
copied to a temporary file to be read twice. Deadlines (``expires_at``) are restored;
an object whose deadline passed is skipped (see docs/orm/expiry.rst).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand
from django_limpyd.management.dumpload import (
    LoadError,
    Parsed,
    check_objects,
    parse_object,
    raise_counters,
    write_objects,
)
from django_limpyd.management.jsonstream import JSONStreamError, NotAnArray, iter_array


def open_fixture(path: str) -> IO[str]:
    """``path`` opened for reading (``CommandError`` if it cannot be)."""
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot read {path!r}: {exc}") from exc


def read_objects(path: str, stream: IO[str]) -> Iterator[Parsed]:
    """The parsed objects of the JSON array in ``stream`` (read from its start), one at
    a time; ``CommandError`` naming ``path`` and the object or character at fault."""
    stream.seek(0)
    try:
        for position, item in enumerate(iter_array(stream)):
            yield parse_object(position, item)
    except (JSONStreamError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path!r} is not valid JSON: {exc}. Nothing was loaded.") from exc
    except (NotAnArray, LoadError) as exc:
        raise CommandError(f"{path}: {exc}. Nothing was loaded.") from exc


class Command(LimpydCommand):
    help = "Creates the Redis instances of JSON files written by limpyd_dump."
    database_help = (
        'The LIMPYD_DATABASES alias to load into. Defaults to "default"; an object of a '
        "model living on another database is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="JSON files ('-': stdin).")
        super().add_arguments(parser)
        self.add_chunk_size_argument(parser, "Instances written")

    def handle(
        self,
        *args: Any,
        files: list[str],
        database: str = "default",
        chunk_size: Any = None,
        **options: Any,
    ) -> None:
        self.get_database(database)
        chunk_size = self.check_positive(
            "chunk-size", self.chunk_size if chunk_size is None else chunk_size
        )
        with ExitStack() as stack:
            streams = []
            for path in files:
                if path == "-":
                    spool = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
                    shutil.copyfileobj(sys.stdin, spool)
                    streams.append((path, spool))
                else:
                    streams.append((path, stack.enter_context(open_fixture(path))))

            def objects() -> Iterator[Parsed]:
                for path, stream in streams:
                    yield from read_objects(path, stream)

            def check_model(model: type) -> None:
                self.model_database(model, database)

            def progress(model: type, done: int) -> None:
                if self.verbosity >= 2:
                    self.stderr.write(f"{model._meta.label}: {done} instances loaded")

            try:
                raise_counters(check_objects(objects(), chunk_size, check_model))
                created = write_objects(objects(), chunk_size, progress)
            except LoadError as exc:
                raise CommandError(f"{exc}.") from exc
        if self.verbosity >= 1:
            for model, count in created.items():
                word = "instance" if count == 1 else "instances"
                self.stderr.write(f"{model._meta.label}: {count} {word} loaded.")
            total = sum(created.values())
            self.stdout.write(f"Installed {total} object{'' if total == 1 else 's'}.")
