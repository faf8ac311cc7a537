"""``manage.py limpyd_expire [app.Model ...] [--database A] [--limit N] [--every SECONDS]``.

Removes the instances whose deadline passed (see docs/orm/expiry.rst) of the
given models, or of every registered model with expiry (of ``--database`` if
given), each atomically with its index entries and the references to it,
sending ``pre_delete`` and ``post_delete`` with ``expired=True``. Reads never
return an expired instance anyway, and every write of a model cleans up a few:
this command, run from cron or as a small loop (``--every``), keeps memory from
holding instances nobody writes after.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand


def plural(count: int) -> str:
    """``1 expired instance``, ``2 expired instances``."""
    return f"{count} expired instance{'' if count == 1 else 's'}"


class Command(LimpydCommand):
    help = (
        "Removes the expired instances of Redis models with expiry (their data, index "
        "entries and the references to them), sending post_delete with expired=True."
    )
    database_default = None
    database_help = (
        "Only models living on this LIMPYD_DATABASES alias (default: each model on its own)."
    )
    #: rounds of ``--every`` before returning (``None``: run until interrupted); for tests
    max_rounds: int | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "labels",
            nargs="*",
            metavar="app_label.ModelName",
            help="The models to clean up (default: every model with expiry).",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="Remove at most N expired instances per model (default: all of them).",
        )
        parser.add_argument(
            "--every",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Run again every SECONDS until interrupted (a lightweight sweeper).",
        )

    def handle(
        self,
        *args: Any,
        labels: list[str] | None = None,
        database: str | None = None,
        limit: Any = None,
        every: Any = None,
        **options: Any,
    ) -> None:
        self.get_database(database)
        if limit is not None:
            limit = self.check_positive("limit", limit)
        if every is not None and not every > 0:
            raise CommandError(f"--every must be a positive number of seconds, got {every!r}.")
        if labels:
            models = self.resolve_models(labels)
            for model in models:
                if not model._meta.expirable:
                    raise CommandError(
                        f"{model._meta.label} has no expiry (no ttl, not expirable). "
                        "Nothing was done."
                    )
                self.model_database(model, database)
        else:
            models = [model for model in self.models_on(database) if model._meta.expirable]
        rounds = 0
        while True:
            self.sweep(models, limit)
            rounds += 1
            if every is None or (self.max_rounds is not None and rounds >= self.max_rounds):
                return
            time.sleep(every)

    def sweep(self, models: list[type], limit: int | None) -> int:
        """One cleanup of every model; how many instances were removed."""
        total = 0
        for model in models:
            self.model_database(model)
            removed = model.delete_expired(limit)
            total += removed
            if self.verbosity >= 2 or (removed and self.verbosity >= 1):
                self.stdout.write(f"{model._meta.label}: {plural(removed)} removed.")
        if self.verbosity >= 1:
            self.stdout.write(f"Removed {plural(total)} from {len(models)} model(s) with expiry.")
        return total
