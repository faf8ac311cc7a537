"""``manage.py limpyd_functions list|prune|load [--database A] [--noinput] [--dry-run]``.

Every model runs on one Redis function library compiled from its fields and
indexes, named ``limpyd_<hash of its content>`` (see
``docs/internals/functions.rst``): a model whose fields or indexes change gets
a new library, and the old one stays on the server, unused.

* ``list``: the django_limpyd libraries on the server of a database, each with
  the models of this project whose current library it is, or ``stale``; and the
  number of functions of each.
* ``prune``: delete the stale libraries, after a confirmation listing them
  (``--dry-run``: only list them).
* ``load``: load the library of every model of the database now.

Libraries belong to a server, not to one of its numbered databases, and other
aliases may share the server: every model of the project, whatever its
database, counts as a user of its library (and nothing but the database asked
for is contacted). A library may also be used by a process running other code
(an older deployment): pruned, it is loaded again by that process on its next
call. On Redis < 7 (no ``FUNCTION`` command) the libraries run as scripts
(``EVALSHA``): there is nothing to list or prune.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from django_limpyd import registry
from django_limpyd.connections import databases
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError
from django_limpyd.management.base import LimpydCommand, model_alias
from django_limpyd.storage.functions import delete_library, list_libraries, uses_functions

ACTIONS = ("list", "prune", "load")

STALE = "stale"

WARNING = (
    "A library this project considers stale may still be used by a process running "
    "other code (an older deployment, another project on the same server): that "
    "process loads it again on its next call."
)


def plural(count: int, word: str) -> str:
    """``1 library``, ``2 libraries``, ``3 functions``, ``2 models``."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


class Command(LimpydCommand):
    help = (
        "Lists the function libraries of django_limpyd on the Redis server of a database "
        "(each with the models using it, or stale), deletes the stale ones, or loads those "
        "of every model. " + WARNING
    )
    asks_confirmation = True
    database_help = (
        "The LIMPYD_DATABASES alias whose server is listed or pruned, or whose models' "
        'libraries are loaded. Defaults to "default".'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=ACTIONS,
            help="list: the libraries on the server; prune: delete those no model of this "
            "project uses; load: load the library of every model of the database now.",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With prune: only list the stale libraries; delete nothing.",
        )

    def handle(
        self,
        *args: Any,
        action: str,
        database: str = "default",
        interactive: bool = True,
        dry_run: bool = False,
        **options: Any,
    ) -> None:
        if action not in ACTIONS:
            raise CommandError(f"Unknown action {action!r}: use 'list', 'prune' or 'load'.")
        if dry_run and action != "prune":
            raise CommandError(f"--dry-run only goes with 'prune' ({action!r} deletes nothing).")
        db = self.get_database(database)
        if action == "load":
            self.load(db, database)
            return
        libraries = list_libraries(db.connection)
        if libraries is None:
            self.no_functions(db, database)
            return
        users, own = self.library_users(database)
        if action == "list":
            self.show(database, libraries, users, own)
        else:
            self.prune(db, database, libraries, users, interactive, dry_run)

    # -- the models -------------------------------------------------------------------

    def project_models(self) -> list[type]:
        """Every registered model, and the models living on a configured database that
        are not registered (defined outside apps), each once."""
        models = registry.get_models()
        for alias in databases:
            try:
                hosted = databases[alias].models.values()
            except ImproperlyConfigured:
                continue
            models += [model for model in hosted if model not in models]
        # a sharded model's libraries are those of its shard models
        return [stored for model in models for stored in model._meta.stored_models]

    def library_users(self, alias: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """``{library name: [labels of the models whose current library it is]}``, and
        ``{label: library name}`` of the models of ``alias``.

        Every model of the project counts, whatever its database: libraries belong to
        the server, which other aliases may share. The label of a model of another
        database names it."""
        users: dict[str, list[str]] = {}
        own: dict[str, str] = {}
        for model in self.project_models():
            where = model_alias(model)
            label = model._meta.label
            if where != alias:
                label += f" ({where or 'hand-built database'})"
            try:
                name = model._meta.library.name
            except ImplementationError as exc:
                self.stderr.write(f"{label}: no library ({exc})")
                continue
            users.setdefault(name, []).append(label)
            if where == alias:
                own[label] = name
        return users, own

    # -- actions ------------------------------------------------------------------------

    def no_functions(self, db: RedisDatabase, alias: str) -> None:
        """What a server without functions (Redis < 7) runs instead."""
        version = db.connection.info("server").get("redis_version", "unknown")
        self.stdout.write(
            f"The server of the {alias!r} database runs Redis {version}, which has no "
            "functions (FUNCTION, Redis 7+): django_limpyd runs each model's library there as "
            "a script (EVALSHA of the same text), kept in the server's script cache. There "
            "is nothing to list or prune: SCRIPT FLUSH empties the script cache, and each "
            "script is loaded again on its next use."
        )

    def show(
        self,
        alias: str,
        libraries: dict[str, list[str]],
        users: dict[str, list[str]],
        own: dict[str, str],
    ) -> None:
        """The table of the libraries on the server, current or stale; the models of
        ``alias`` whose library is not there yet."""
        if not libraries:
            self.stdout.write(f"No django_limpyd library on the server of the {alias!r} database.")
        else:
            rows = [
                [
                    name,
                    len(names),
                    "current" if name in users else STALE,
                    ", ".join(users.get(name, [])),
                ]
                for name, names in libraries.items()
            ]
            self.write_table(["library", "functions", "status", "models"], rows, numeric={1})
        if self.verbosity < 1:
            return
        stale = sum(1 for name in libraries if name not in users)
        if libraries:
            self.stdout.write(
                f"{plural(len(libraries), 'library')} on the server of the {alias!r} database: "
                f"{len(libraries) - stale} current, {stale} {STALE}."
                + (" Delete the stale ones with: manage.py limpyd_functions prune" if stale else "")
            )
        waiting = sorted(label for label, name in own.items() if name not in libraries)
        if waiting:
            self.stdout.write(
                f"Not loaded yet (loaded on first use, or by 'limpyd_functions load'): "
                f"{', '.join(waiting)}."
            )

    def prune(
        self,
        db: RedisDatabase,
        alias: str,
        libraries: dict[str, list[str]],
        users: dict[str, list[str]],
        interactive: bool,
        dry_run: bool,
    ) -> None:
        """Delete the stale libraries, after a confirmation."""
        stale = {name: names for name, names in libraries.items() if name not in users}
        where = f"the server of the {alias!r} database"
        if not stale:
            self.stdout.write(
                f"Nothing to prune: {plural(len(libraries), 'library')} on {where}, all current."
            )
            return
        summary = "\n".join(
            f"    {name} ({plural(len(names), 'function')})" for name, names in stale.items()
        )
        if dry_run:
            self.stdout.write(
                f"Dry run: {plural(len(stale), 'stale library')} would be deleted from {where}:\n"
                f"{summary}"
            )
            return
        if interactive:
            confirm = self.ask(
                f"You have requested to delete the stale function libraries of {where}:\n"
                f"{summary}\n"
                "No model of this project uses them. " + WARNING + "\n"
                "Are you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
        else:
            confirm = "yes"
        if confirm.strip() != "yes":
            self.stdout.write("Prune cancelled.")
            return
        deleted = 0
        for name in stale:
            if delete_library(db.connection, name):
                deleted += 1
                if self.verbosity >= 1:
                    self.stdout.write(f"{name}: deleted.")
            elif self.verbosity >= 1:
                self.stdout.write(f"{name}: already gone.")
        if self.verbosity >= 1:
            self.stdout.write(f"Deleted {plural(deleted, 'stale library')} from {where}.")

    def load(self, db: RedisDatabase, alias: str) -> None:
        """Load the library of every model of ``alias`` now."""
        for model in self.models_on(alias):  # registered on the database when asked
            self.model_database(model, alias)
        models = [stored for model in db.models.values() for stored in model._meta.stored_models]
        if not models:
            self.stdout.write(f"No Redis model on the {alias!r} database: nothing to load.")
            return
        for model in models:  # every library compiles before anything is loaded
            try:
                model._meta.library  # noqa: B018
            except ImplementationError as exc:
                raise CommandError(f"{model._meta.label}: {exc} Nothing was loaded.") from exc
        db.load_scripts()
        if self.verbosity >= 2:
            for model in models:
                self.stdout.write(f"{model._meta.label}: {model._meta.library.name}")
        if self.verbosity >= 1:
            how = (
                "function libraries"
                if uses_functions(db.connection)
                else "libraries, as scripts (EVALSHA: the server has no functions),"
            )
            labels = ", ".join(sorted(model._meta.label for model in models))
            self.stdout.write(
                f"Loaded the {how} of {plural(len(models), 'model')} on the {alias!r} "
                f"database: {labels}."
            )
