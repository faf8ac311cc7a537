"""``manage.py limpyd_load FILE [FILE ...] [--database A] [--chunk-size N]``.

Creates the instances written by ``limpyd_dump`` (Django's ``dumpdata`` shape),
with their pks, through the models' writes: index entries and uniqueness checks
are done by the writes themselves, one pipeline per chunk. Every object is
checked (model, pk, fields, no pk that exists) before the first write. A file
is read whole (``json.load``), not streamed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand
from django_limpyd.management.dumpload import LoadError, load_objects, parse_objects


def read_fixture(path: str) -> Any:
    """The JSON of ``path`` (``"-"``: stdin), or ``CommandError``."""
    import sys

    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except OSError as exc:
        raise CommandError(f"Cannot read {path!r}: {exc}") from exc
    except ValueError as exc:
        raise CommandError(f"{path!r} is not valid JSON: {exc}") from exc


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
        parsed = []
        for path in files:
            try:
                parsed += parse_objects(read_fixture(path))
            except LoadError as exc:
                raise CommandError(f"{path}: {exc}. Nothing was loaded.") from exc
        for model in dict.fromkeys(model for model, _pk, _values in parsed):
            self.model_database(model, database)

        def progress(model: type, done: int) -> None:
            if self.verbosity >= 2:
                self.stderr.write(f"{model._meta.label}: {done} instances loaded")

        try:
            created = load_objects(parsed, chunk_size, progress)
        except LoadError as exc:
            raise CommandError(f"{exc}.") from exc
        if self.verbosity >= 1:
            for model, count in created.items():
                word = "instance" if count == 1 else "instances"
                self.stderr.write(f"{model._meta.label}: {count} {word} loaded.")
            total = sum(created.values())
            self.stdout.write(f"Installed {total} object{'' if total == 1 else 's'}.")
