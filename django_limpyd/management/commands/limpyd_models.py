"""``manage.py limpyd_models [--database A] [--memory]``.

A table of the registered Redis models: app, model, database alias, namespace,
instances (ZCARD of the pks; for a model with expiry, the live ones, followed by
``(+M expired, awaiting cleanup)`` when some are), keys (counted by SCAN of the model's own
pattern) and, with ``--memory``, the memory they use: ``MEMORY USAGE`` of a
uniform sample of up to 100 keys, extrapolated to every key (exact, without
``~``, when the model has no more keys than the sample).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from django_limpyd.embedded import EmbeddedServerError
from django_limpyd.management.base import LimpydCommand, format_bytes, model_alias
from django_limpyd.model.expiry import count_label, grouped_counts, queue_count

#: keys read with MEMORY USAGE per model
MEMORY_SAMPLE = 100


class Command(LimpydCommand):
    help = (
        "Lists the registered Redis models: app, model, database, namespace, number of "
        "instances and of keys, and optionally their memory use."
    )
    database_default = None
    database_help = "Only the models living on this LIMPYD_DATABASES alias (default: every one)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--memory",
            action="store_true",
            help=f"Add the memory used by each model's keys: MEMORY USAGE of up to "
            f"{MEMORY_SAMPLE} sampled keys, extrapolated ('~' marks an estimate).",
        )

    def handle(
        self, *args: Any, database: str | None = None, memory: bool = False, **options: Any
    ) -> None:
        self.get_database(database)  # an unknown alias fails here
        headers = ["app", "model", "database", "namespace", "instances", "keys"]
        if memory:
            headers.append("memory")
        self.failures: dict[str, list[str]] = {}
        rows = [self._row(model, memory) for model in self.models_on(database)]
        if not rows:
            where = f" on the {database!r} database" if database else ""
            self.stdout.write(f"No Redis models{where}.")
            return
        self.write_table(headers, rows, numeric={4, 5, 6})
        if self.failures:  # "?" in the table: say why, once per error, and exit non-zero
            raise CommandError(
                "\n".join(
                    f"{', '.join(labels)}: {error}" for error, labels in self.failures.items()
                )
            )

    def _row(self, model: type, memory: bool) -> list[Any]:
        meta = model._meta
        row: list[Any] = [meta.app_label, meta.name, model_alias(model), meta.namespace]
        try:
            database = self.model_database(model)
            connection = database.connection
            connection.ping()
        except (CommandError, ImproperlyConfigured, EmbeddedServerError) as exc:
            error = str(exc.__cause__ or exc) if isinstance(exc, CommandError) else str(exc)
            self.failures.setdefault(error, []).append(meta.label)
            return row + ["?", "?"] + (["?"] if memory else [])
        keys, sample = 0, []
        for stored in meta.stored_models:  # a sharded model: each of its shards
            found, some = self.count_keys(
                database, stored._meta.keys.scan_pattern, meta.label, MEMORY_SAMPLE if memory else 0
            )
            keys, sample = keys + found, sample + some[: max(0, MEMORY_SAMPLE - len(sample))]
        pipe = connection.pipeline(transaction=False)
        queue_count(pipe, model)
        count, awaiting = count_label(model, grouped_counts([model], pipe.execute())[0])
        row += [f"{count}{awaiting}", keys]
        if memory:
            row.append(self._memory(connection, keys, sample))
        return row

    @staticmethod
    def _memory(connection: Any, keys: int, sample: list[str]) -> str:
        if not sample:
            return format_bytes(0)
        pipe = connection.pipeline(transaction=False)
        for key in sample:
            pipe.memory_usage(key)
        sizes = [size for size in pipe.execute() if size is not None]
        if not sizes:
            return "?"
        estimate = sum(sizes) / len(sizes) * keys
        prefix = "" if len(sizes) == keys else "~"
        return prefix + format_bytes(estimate)
