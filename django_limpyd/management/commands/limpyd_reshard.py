"""``manage.py limpyd_reshard app.Model [--batch N] [--dry-run]``.

Moves the instances of a sharded model being resharded (``shards = m`` with
``resharding_from = n``) from the layout of ``n`` shards to the layout of ``m``, while
the application keeps reading and writing it (see docs/scaling.rst, "Changing the
number of shards", and :mod:`django_limpyd.sharding.reshard`):

1. the old layout is closed: creates go to the new one, whose AutoPK counters are set
   past every old pk first;
2. the reservations of unique values move to the new layout's buckets;
3. the instances move, a batch at a time, each batch fenced, copied, then dropped.

Every step can be interrupted and run again: the command goes on where it stopped.
Once it says the old layout is empty, deploy the model without ``resharding_from``, then
run it with ``--forget N`` to delete what the old layout of N shards left.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_limpyd.management.base import LimpydCommand, Progress


class Command(LimpydCommand):
    help = (
        "Moves the instances of a sharded model declared with resharding_from to its new "
        "number of shards, online (resumable, with progress)."
    )
    database_default = None
    database_help = "Check that the model lives on this LIMPYD_DATABASES alias."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("label", metavar="app_label.ModelName", help="The model to reshard.")
        super().add_arguments(parser)
        parser.add_argument(
            "--batch",
            type=int,
            default=500,
            metavar="N",
            help="Instances moved per step (each step waits 0.1 s: default 500).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what is left to move, change nothing.",
        )
        parser.add_argument(
            "--forget",
            type=int,
            default=None,
            metavar="N",
            help=(
                "Once the model is deployed without resharding_from: delete what its old "
                "layout of N shards left (AutoPK counters, marks)."
            ),
        )

    def handle(
        self,
        *args: Any,
        label: str = "",
        database: str | None = None,
        batch: Any = 500,
        dry_run: bool = False,
        forget: int | None = None,
        **options: Any,
    ) -> None:
        from django_limpyd.exceptions import ImplementationError
        from django_limpyd.sharding import moves

        model = self.resolve_model(label)
        if database is not None:
            self.model_database(model, database)
        batch = self.check_positive("batch", batch)
        meta = model._meta
        if forget is not None:
            try:
                deleted = moves.forget_layout(model, forget)
            except ImplementationError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"{meta.label}: the old layout of {forget} shards is forgotten ({deleted} "
                "keys deleted)."
            )
            return
        if not meta.previous_shard_models:
            raise CommandError(
                f"{meta.label} is not being resharded: give it shards = <new number> and "
                "resharding_from = <current number> (1 if it is not sharded), deploy that "
                "code to every process, then run this command."
            )
        before, after = meta.previous_shards, meta.shards
        left = moves.left_in_old_layout(model)
        total = sum(left.values())
        plan = f"{meta.label}: from {before} to {after} shards, {total} instances to move"
        if dry_run:
            self.stdout.write(f"Dry run: {plan}. Nothing was changed.")
            return
        self.stdout.write(f"{plan}.")
        progress = Progress(self, meta.label, "instances moved", total)

        def report(what: str, count: int) -> None:
            if what == "closed":
                counters = f" (AutoPK counters past {count})" if meta.pk_field.auto else ""
                self.stdout.write(
                    f"Old layout closed: new instances go to the {after} new shards{counters}."
                )
            elif what == "reservations" and meta.has_unique:
                self.stdout.write(f"Unique value reservations moved: {count}.")
            elif what == "moved":
                progress.advance(count)

        done = moves.run(model, batch, report)
        progress.finish()
        self.stdout.write(
            f"{meta.label}: {done['moved']} instances moved; the old layout of {before} "
            f"shards is empty. Deploy {meta.name} without resharding_from (shards = {after})."
        )
