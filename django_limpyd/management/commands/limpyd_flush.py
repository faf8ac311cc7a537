"""``manage.py limpyd_flush app.Model [app.Model ...] [--database A] [--noinput] [--dry-run]``.

Deletes every key of the given models (instances, indexes, counters, temporary
and stored collections: everything under each model's prefix) and nothing
else. It counts the keys first and asks for confirmation saying how many keys
of each model will go; ``--dry-run`` only counts. Keys are found with SCAN on
the model's own pattern and deleted with UNLINK, a chunk at a time, with
progress on stderr for big models.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from django_limpyd.management.base import LimpydCommand


def plural(count: int, word: str = "key") -> str:
    """``1 key``, ``2 keys``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class Command(LimpydCommand):
    help = (
        "Deletes every key of the given Redis models (instances, indexes, counters, "
        "collections) and nothing else, after a confirmation."
    )
    asks_confirmation = True
    database_help = (
        'The LIMPYD_DATABASES alias the models live on. Defaults to "default"; a model '
        "living on another database is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "labels",
            nargs="+",
            metavar="app_label.ModelName",
            help="The models to flush.",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the keys that would be deleted; delete nothing.",
        )

    def handle(
        self,
        *args: Any,
        labels: list[str],
        database: str,
        interactive: bool = True,
        dry_run: bool = False,
        **options: Any,
    ) -> None:
        db = self.get_database(database)
        models = self.resolve_models(labels)
        for model in models:  # every model is checked before anything is deleted
            self.model_database(model, database)
        counts = {
            model: self.count_keys(db, model._meta.keys.scan_pattern, model._meta.label)[0]
            for model in models
        }
        total = sum(counts.values())
        summary = "\n".join(
            f"    {model._meta.label}: {plural(count)}" for model, count in counts.items()
        )
        if dry_run:
            self.stdout.write(
                f"Dry run: {plural(total)} would be deleted from the {database!r} database:\n"
                f"{summary}"
            )
            return
        if total == 0:
            self.stdout.write(f"Nothing to flush: no keys of these models on {database!r}.")
            return
        if interactive:
            confirm = self.ask(
                f"You have requested a flush of these Redis models on the {database!r} database:\n"
                f"{summary}\n"
                f"This will IRREVERSIBLY DESTROY these {plural(total)} (instances, indexes, "
                "counters, collections).\n"
                "Are you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
        else:
            confirm = "yes"
        if confirm.strip() != "yes":
            self.stdout.write("Flush cancelled.")
            return
        deleted = 0
        for model in models:
            label = model._meta.label
            count = self.unlink_keys(db, model._meta.keys.scan_pattern, label, counts[model])
            deleted += count
            if self.verbosity >= 1:
                self.stdout.write(f"{label}: {plural(count)} deleted.")
        if self.verbosity >= 1:
            self.stdout.write(f"Flushed {plural(deleted)} from the {database!r} database.")
