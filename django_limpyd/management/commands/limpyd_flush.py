"""``manage.py limpyd_flush app.Model [app.Model ...] [--database A] [--noinput] [--dry-run]``.

Deletes every key of the given models (instances, indexes, counters, temporary
and stored collections: everything under each model's prefix) and nothing
else. It counts the keys first and asks for confirmation saying how many keys
of each model will go; ``--dry-run`` only counts. Keys are found with SCAN on
the model's own pattern and deleted with UNLINK, a chunk at a time, with
progress on stderr for big models.

Like SQL's ``TRUNCATE``:

* a model that related fields of other models point to
  (:mod:`django_limpyd.contrib.related`) is refused, naming those fields,
  unless they are flushed too or ``--cascade`` is given: each pointing
  instance then has the field cleared first, one normal field write per
  instance (atomic with its index entries);
* the AutoPK counter (``P:max``) is kept, so a new instance never takes the pk
  of a flushed one that something may still name (``RESTART IDENTITY`` is
  ``--reset-pk``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.contrib.related.integrity import clear_pointers, pointing_fields
from django_limpyd.management.base import LimpydCommand, Progress


def plural(count: int, word: str = "key") -> str:
    """``1 key``, ``2 keys``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_field(field: Any) -> str:
    """``blog.Post.author (FKInstanceHashField)``."""
    return f"{field.model._meta.label}.{field.name} ({type(field).__name__})"


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
        parser.add_argument(
            "--cascade",
            action="store_true",
            help="Clear the related fields of other models pointing to these models "
            "(and their index entries) first, instead of refusing.",
        )
        parser.add_argument(
            "--reset-pk",
            action="store_true",
            help="Also delete the AutoPK counters: pks start again from 1 (by default "
            "they go on, so no new instance takes the pk of a flushed one).",
        )

    def handle(
        self,
        *args: Any,
        labels: list[str],
        database: str,
        interactive: bool = True,
        dry_run: bool = False,
        cascade: bool = False,
        reset_pk: bool = False,
        **options: Any,
    ) -> None:
        db = self.get_database(database)
        models = self.resolve_models(labels)
        for model in models:  # every model is checked before anything is deleted
            self.model_database(model, database)
        models = [stored for model in models for stored in model._meta.stored_models]
        pointing = pointing_fields(models)
        if pointing and not cascade:
            raise CommandError(
                f"Cannot flush {', '.join(model._meta.label for model in models)}: related "
                f"fields of other models point to {'it' if len(models) == 1 else 'them'}: "
                f"{', '.join(describe_field(field) for field in pointing)}.\n"
                "Hint: flush those models too, or add --cascade to clear these fields "
                "(and their index entries) first. Nothing was done."
            )
        keep = frozenset() if reset_pk else frozenset(m._meta.keys.max_pk for m in models)
        counts = {model: self.count_model_keys(db, model, keep) for model in models}
        total = sum(counts.values())
        summary = "\n".join(
            f"    {model._meta.label}: {plural(count)}" for model, count in counts.items()
        )
        if pointing:
            summary += "".join(
                f"\n    {describe_field(field)}: cleared on every instance" for field in pointing
            )
        if dry_run:
            self.stdout.write(
                f"Dry run: {plural(total)} would be deleted from the {database!r} database:\n"
                f"{summary}"
            )
            return
        if total == 0 and not pointing:
            self.stdout.write(f"Nothing to flush: no keys of these models on {database!r}.")
            return
        if interactive:
            kept = "" if reset_pk else " The AutoPK counters are kept (--reset-pk resets them)."
            confirm = self.ask(
                f"You have requested a flush of these Redis models on the {database!r} database:\n"
                f"{summary}\n"
                f"This will IRREVERSIBLY DESTROY these {plural(total)} (instances, indexes, "
                f"counters, collections).{kept}\n"
                "Are you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
        else:
            confirm = "yes"
        if confirm.strip() != "yes":
            self.stdout.write("Flush cancelled.")
            return
        for field in pointing:
            self.clear_field(field)
        deleted = 0
        for model in models:
            label = model._meta.label
            count = self.unlink_keys(db, model._meta.keys.scan_pattern, label, counts[model], keep)
            deleted += count
            if self.verbosity >= 1:
                self.stdout.write(f"{label}: {plural(count)} deleted.")
        if self.verbosity >= 1:
            self.stdout.write(f"Flushed {plural(deleted)} from the {database!r} database.")

    def count_model_keys(self, db: Any, model: type, keep: frozenset[str]) -> int:
        """The keys of ``model`` the flush deletes (those of ``keep`` are not)."""
        count = self.count_keys(db, model._meta.keys.scan_pattern, model._meta.label)[0]
        kept = [key for key in keep if model._meta.keys.owns(key)]
        return count - (db.connection.exists(*kept) if kept else 0)

    def clear_field(self, field: Any) -> None:
        """Clear ``field`` on every instance of its model holding a value."""
        label = f"{field.model._meta.label}.{field.name}"
        progress = Progress(self, label, "instances read", None)
        cleared = clear_pointers(field, self.chunk_size, progress.advance)
        progress.finish()
        if self.verbosity >= 1:
            self.stdout.write(f"{label}: cleared on {plural(cleared, 'instance')}.")
