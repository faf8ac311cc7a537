"""``manage.py limpyd_index rebuild|check [app.Model[.field]] [--repair] [--chunk-size N]``.

``rebuild`` clears and rebuilds the indexes of every indexed field of a model
(or of one field), e.g. after adding an index to a field that already holds
data; it first upgrades the model's pks written by an earlier version (a set,
now a sorted set: :func:`~django_limpyd.storage.upgrade.upgrade_pks`).
``check`` prints every difference between the data and the indexes, every
orphan key, and every dangling pointer (a value of a related field naming a
target pk that does not exist, see
:mod:`django_limpyd.contrib.related.integrity`); it fails (non-zero exit) while
differences remain. ``check --repair`` clears the dangling pointers (through the
fields' own writes), rebuilds the indexes of each field that has differences,
then checks again. Without a label, every registered model (of ``--database``
if given). Both show progress on stderr (instances read) for big models.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.consistency import index_differences
from django_limpyd.contrib.related.integrity import (
    DanglingPointer,
    clear_dangling,
    find_dangling,
    related_fields,
)
from django_limpyd.management.base import LimpydCommand, Progress
from django_limpyd.pk_counter import counter_problem, highest_pk, raise_counter
from django_limpyd.storage.upgrade import upgrade_pks

#: a model and the fields to work on (``None``: every indexed field)
Target = tuple[type, list[Any] | None]


def indexed_fields(model: type) -> list[Any]:
    """The fields of ``model`` that have at least one index."""
    return [field for field in model._meta.data_fields if field.indexes]


def group_problems(model: type, problems: list[str]) -> dict[str | None, list[str]]:
    """``consistency_check`` messages by field name (``None``: the model's own, e.g. orphans).

    The messages of a field's index start with ``"<Model>.<field> "``.
    """
    grouped: dict[str | None, list[str]] = {}
    names = [field.name for field in indexed_fields(model)]
    for problem in problems:
        owner = next(
            (name for name in names if problem.startswith(f"{model._meta.name}.{name} ")), None
        )
        grouped.setdefault(owner, []).append(problem)
    return grouped


def plural(count: int, word: str) -> str:
    """``1 index``, ``2 indexes``, ``3 differences``."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word}es" if word.endswith(("x", "s")) else f"{count} {word}s"


class Command(LimpydCommand):
    help = (
        "Rebuilds the indexes of Redis models (or of one field), or checks that they "
        "match the data, reporting and optionally repairing differences."
    )
    database_default = None
    database_help = (
        "Only models living on this LIMPYD_DATABASES alias (default: each model on its own)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=("rebuild", "check"),
            help="rebuild: clear and rebuild the indexes; check: compare indexes and data.",
        )
        parser.add_argument(
            "label",
            nargs="?",
            metavar="app_label.ModelName[.field]",
            help="A model, or one indexed field of a model (default: every registered model).",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--repair",
            action="store_true",
            help="With check: rebuild the indexes of every field with differences, then "
            "check again.",
        )
        self.add_chunk_size_argument(parser, "Instances read")

    def handle(
        self,
        *args: Any,
        action: str,
        label: Any = None,
        database: str | None = None,
        repair: bool = False,
        chunk_size: Any = None,
        **options: Any,
    ) -> None:
        if action not in ("rebuild", "check"):
            raise CommandError(f"Unknown action {action!r}: use 'rebuild' or 'check'.")
        if repair and action != "check":
            raise CommandError("--repair only goes with 'check' ('rebuild' always rebuilds).")
        self.get_database(database)
        chunk_size = self.check_positive("chunk-size", chunk_size)
        targets = self.resolve_targets(label, database)
        if action == "rebuild":
            for model, fields in targets:
                self.rebuild_model(model, fields, chunk_size)
            return
        remaining = sum(
            self.check_model(model, fields, repair, chunk_size) for model, fields in targets
        )
        sharded = {model.__mro__[1] for model, _ in targets if model._meta.shard is not None}
        for model in sorted(sharded, key=lambda model: model._meta.label):
            if model._meta.has_unique:
                remaining += self.check_reservations(model, repair)
        if remaining:
            hint = (
                "orphan keys are not index entries: delete them by hand (limpyd_scan --model "
                "lists a model's keys)"
                if repair
                else "run again with --repair to rebuild the indexes with differences and "
                "clear the dangling pointers"
            )
            verb = "remains" if remaining == 1 else "remain"
            raise CommandError(f"{plural(remaining, 'difference')} {verb}. Hint: {hint}.")

    # -- targets --------------------------------------------------------------------

    def resolve_targets(self, label: Any, alias: str | None) -> list[Target]:
        """The models (and fields) named by ``label``, or every model of ``alias``."""
        if label is None:
            targets: list[Target] = [(model, None) for model in self.models_on(alias)]
        else:
            if not isinstance(label, str) or label.count(".") not in (1, 2):
                raise CommandError(
                    f"{label!r} is not a label: expected 'app_label.ModelName' or "
                    "'app_label.ModelName.field'."
                )
            parts = label.split(".")
            model = self.resolve_model(".".join(parts[:2]))
            fields = [self.resolve_field(model, parts[2])] if len(parts) == 3 else None
            targets = [(model, fields)]
        for model, _fields in targets:
            self.model_database(model, alias)
        return [  # a sharded model: each of its shards
            (stored, None if fields is None else [stored._meta.get_field(f.name) for f in fields])
            for model, fields in targets
            for stored in model._meta.stored_models
        ]

    def resolve_field(self, model: type, name: str) -> Any:
        """The indexed field ``name`` of ``model``, or ``CommandError``."""
        label = model._meta.label
        fields = ", ".join(field.name for field in indexed_fields(model)) or "none"
        if not model._meta.has_field(name) or name == "pk":
            raise CommandError(f"{label} has no field {name!r} (indexed fields: {fields}).")
        field = model._meta.get_field(name)
        if not field.indexes:
            raise CommandError(f"{label}.{name} has no index (indexed fields: {fields}).")
        return field

    # -- actions --------------------------------------------------------------------

    def progress(self, model: type, label: str, passes: int) -> Progress:
        """A progress line on stderr counting the instances read in ``passes`` passes."""
        total = model._meta.database.connection.zcard(model._meta.keys.pks) * passes
        return Progress(self, label, "instances read", total)

    def rebuild_model(self, model: type, fields: list[Any] | None, chunk_size: int) -> None:
        """Clear and rebuild the indexes of ``fields`` (default: every indexed field)."""
        label = model._meta.label
        upgraded = upgrade_pks(model)
        if upgraded and self.verbosity >= 1:
            self.stdout.write(f"{label}: {plural(upgraded, 'pk')} moved to the sorted set of pks.")
        fields = indexed_fields(model) if fields is None else fields
        if not fields and self.verbosity >= 2:
            self.stdout.write(f"{label}: no indexed field.")
        for field in fields:
            progress = self.progress(model, f"{label}.{field.name}", len(field.indexes))
            instances = 0
            for index in field.indexes:
                instances = index.rebuild(chunk_size, progress.advance)
            progress.finish()
            if self.verbosity >= 1:
                self.stdout.write(
                    f"{label}.{field.name}: {plural(len(field.indexes), 'index')} rebuilt "
                    f"({plural(instances, 'instance')} read)."
                )

    def check_model(
        self, model: type, fields: list[Any] | None, repair: bool, chunk_size: int
    ) -> int:
        """Check (and repair) ``model``; the number of differences that remain."""
        label = model._meta.label
        problems, dangling = self.find_problems(model, fields, chunk_size)
        count = self.report(label, problems, dangling, "")
        if not count or not repair:
            return count
        if raise_counter(model) and self.verbosity >= 1:
            self.stdout.write(
                f"{label}: AutoPK counter raised to the highest pk in use ({highest_pk(model)})."
            )
        cleared = sum(1 for pointer in dangling if clear_dangling(pointer))
        if cleared and self.verbosity >= 1:
            self.stdout.write(f"{label}: {plural(cleared, 'dangling pointer')} cleared.")
        broken = [model._meta.get_field(name) for name in problems if name is not None]
        self.rebuild_model(model, broken, chunk_size)
        problems, dangling = self.find_problems(model, fields, chunk_size)
        return self.report(label, problems, dangling, " after repair")

    def check_reservations(self, model: type, repair: bool) -> int:
        """Check (and repair) the reservations of the unique values of the sharded
        ``model`` (see :mod:`django_limpyd.sharding.unique`); how many problems remain."""
        from django_limpyd.sharding import unique

        label = f"{model._meta.label} reservations"
        count = self.report(label, {None: unique.reservation_problems(model)}, [], "")
        if not count or not repair:
            return count
        fixed = unique.repair(model)
        if self.verbosity >= 1:
            self.stdout.write(f"{label}: {plural(fixed, 'reservation')} resolved.")
        return self.report(label, {None: unique.reservation_problems(model)}, [], " after repair")

    def report(
        self,
        label: str,
        problems: dict[str | None, list[str]],
        dangling: list[DanglingPointer],
        when: str,
    ) -> int:
        """Write the differences found (``OK`` if none); their number."""
        found = [problem for group in problems.values() for problem in group]
        found += [pointer.message for pointer in dangling]
        if not found:
            if self.verbosity >= 1 or when:
                self.stdout.write(f"{label}: OK{when}")
            return 0
        self.stdout.write(f"{label}: {plural(len(found), 'difference')}{when}")
        for problem in found:
            self.stdout.write(f"  {problem}")
        return len(found)

    def find_problems(
        self, model: type, fields: list[Any] | None, chunk_size: int
    ) -> tuple[dict[str | None, list[str]], list[DanglingPointer]]:
        """The index differences of ``model`` by field, and its dangling pointers (only
        those of ``fields`` if given)."""
        passes = sum(len(field.indexes) for field in model._meta.data_fields)
        progress = self.progress(
            model, f"{model._meta.label} check", passes + len(related_fields(model))
        )
        grouped = group_problems(model, index_differences(model, chunk_size, progress.advance))
        dangling = find_dangling(model, chunk_size, progress.advance)
        progress.finish()
        counter = counter_problem(model)
        if counter:
            grouped.setdefault(None, []).append(counter)
        if fields is not None:
            names = {field.name for field in fields}
            grouped = {name: found for name, found in grouped.items() if name in names}
            dangling = [pointer for pointer in dangling if pointer.field.name in names]
        return grouped, dangling
