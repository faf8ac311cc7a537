"""``manage.py limpyd_dump [app.Model ...] [--database A] [--output FILE] [--chunk-size N]``.

Writes the instances of Redis models as JSON, in the shape of Django's
``dumpdata`` (see :mod:`django_limpyd.management.dumpload`), streamed: one
pipeline per chunk of pks, each chunk written before the next is read.
Without a label, every model of ``--database``. Counts go to stderr.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand
from django_limpyd.management.dumpload import dump_model


class Command(LimpydCommand):
    help = "Writes the instances of Redis models as JSON (the shape of Django's dumpdata)."
    database_help = (
        'The LIMPYD_DATABASES alias to dump. Defaults to "default"; a model living on '
        "another database is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "labels",
            nargs="*",
            metavar="app_label.ModelName",
            help="The models to dump (default: every model of --database).",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="Write to FILE instead of stdout."
        )
        self.add_chunk_size_argument(parser, "Instances read")

    def handle(
        self,
        *args: Any,
        labels: list[str] = (),  # type: ignore[assignment]
        database: str = "default",
        output: str | None = None,
        chunk_size: Any = None,
        **options: Any,
    ) -> None:
        self.get_database(database)
        chunk_size = self.check_positive(
            "chunk-size", self.chunk_size if chunk_size is None else chunk_size
        )
        models = self.resolve_models(labels) if labels else self.models_on(database)
        for model in models:  # every model is checked before anything is read
            self.model_database(model, database)
        if output is None:
            self.dump(models, self.stdout._out, chunk_size)  # type: ignore[attr-defined]
            return
        try:
            stream = open(output, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot write {output!r}: {exc}") from exc
        with stream:
            self.dump(models, stream, chunk_size)

    def dump(self, models: list[type], stream: TextIO, chunk_size: int) -> None:
        """Write the JSON list of every instance of ``models`` on ``stream``."""
        stream.write("[")
        first = True
        for model in models:
            count = 0
            for objects in dump_model(model, chunk_size):
                for item in objects:
                    stream.write("\n" if first else ",\n")
                    stream.write(json.dumps(item, ensure_ascii=False))
                    first = False
                count += len(objects)
            if self.verbosity >= 1:
                word = "instance" if count == 1 else "instances"
                self.stderr.write(f"{model._meta.label}: {count} {word} dumped.")
        stream.write("\n]\n")
