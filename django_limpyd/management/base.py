"""``LimpydCommand``: what every ``limpyd_*`` management command shares.

* ``--database ALIAS`` (choices: the ``LIMPYD_DATABASES`` aliases) and, for
  commands that ask before acting, ``--noinput``/``--no-input`` (stored as
  ``interactive``, as in Django's ``flush``) and the question itself (``ask``);
* turning ``app_label.ModelName`` labels into models, with a
  :class:`~django.core.management.base.CommandError` that names the label and
  lists the known models, and refusing a model that lives on another database
  than the one asked for (before anything is read or written);
* chunked SCAN, count and UNLINK of a pattern of keys, with a progress line on
  ``stderr`` every :attr:`LimpydCommand.progress_every` keys;
* redis-py connection errors turned into a ``CommandError`` with a hint.

Key patterns always come from :class:`~django_limpyd.storage.keys.ModelKeys`
(``scan_pattern``); nothing here builds a key name.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_limpyd import registry
from django_limpyd.connections import databases
from django_limpyd.database import RedisDatabase
from django_limpyd.embedded import EmbeddedServerError
from django_limpyd.indexes.maintenance import chunks
from django_limpyd.settings_parser import SETTING

__all__ = ["LimpydCommand", "Progress", "format_bytes", "model_alias"]

#: keys per SCAN COUNT hint, per pipeline and per UNLINK
CHUNK_SIZE = 1000


def model_alias(model: type) -> str | None:
    """The ``LIMPYD_DATABASES`` alias ``model`` uses, read without connecting
    (``None`` for a hand-built :class:`RedisDatabase`)."""
    database = getattr(model, "database", None)
    if database is None:
        return "default"
    if isinstance(database, str):
        return database
    return getattr(database, "alias", None)


def format_bytes(size: float) -> str:
    """``size`` bytes for humans: ``512 B``, ``1.5 KiB``, ``3.2 MiB``..."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


class Progress:
    """A line on ``stderr`` every ``every`` items: ``label: 3000/12000 keys deleted``."""

    def __init__(self, command: LimpydCommand, label: str, what: str, total: int | None) -> None:
        self.command = command
        self.label = label
        self.what = what
        self.total = total
        self.done = 0
        self._next = command.progress_every
        self._written = False

    def advance(self, count: int) -> None:
        """Record ``count`` more items; write a line when a step is crossed."""
        self.done += count
        if self.done >= self._next:
            while self._next <= self.done:
                self._next += self.command.progress_every
            self._write()

    def finish(self) -> None:
        """Write the final line, if a progress line was written before."""
        if self._written and self.done != self._last:
            self._write()

    def _write(self) -> None:
        self._last = self.done
        if self.command.verbosity < 1:
            return
        self._written = True
        if self.total:
            share = min(100, self.done * 100 // self.total)
            text = f"{self.label}: {self.done}/{self.total} {self.what} ({share}%)"
        else:
            text = f"{self.label}: {self.done} {self.what}"
        self.command.stderr.write(text)


class LimpydCommand(BaseCommand):
    """Base of the ``limpyd_*`` commands (see the module docstring)."""

    #: the default of ``--database``; ``None``: every database
    database_default: str | None = "default"
    #: help of ``--database``
    database_help = 'Nominates a LIMPYD_DATABASES alias. Defaults to "default".'
    #: whether the command asks for confirmation (adds ``--noinput``)
    asks_confirmation = False
    #: write a progress line on stderr every this many keys
    progress_every = 10_000
    #: keys per SCAN ``COUNT`` hint, per pipeline and per ``UNLINK``
    chunk_size = CHUNK_SIZE

    verbosity = 1

    # -- arguments ------------------------------------------------------------------

    def add_chunk_size_argument(self, parser: CommandParser, per_round_trip: str) -> None:
        """``--chunk-size N``: ``per_round_trip`` (e.g. "Instances read") per round trip."""
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=self.chunk_size,
            metavar="N",
            help=f"{per_round_trip} per round trip (default {self.chunk_size}).",
        )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default=self.database_default,
            choices=tuple(databases),
            metavar="ALIAS",
            help=f"{self.database_help} Choices: {', '.join(databases) or 'none'}.",
        )
        if self.asks_confirmation:
            parser.add_argument(
                "--noinput",
                "--no-input",
                action="store_false",
                dest="interactive",
                help="Tells Django to NOT prompt the user for input of any kind.",
            )

    def execute(self, *args: Any, **options: Any) -> Any:
        self.verbosity = int(options.get("verbosity", 1))
        self.alias = options.get("database", self.database_default)
        self.using: str | None = self.alias  # the alias being worked on (set while looping)
        try:
            return super().execute(*args, **options)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if self.using:
                where, setting = f"the {self.using!r} database", f"{SETTING}[{self.using!r}]"
            else:
                where, setting = "a Redis database", SETTING
            raise CommandError(
                f"Cannot reach the Redis server of {where}: {exc}\n"
                f"Hint: is the server running, and does {setting} point at it?"
            ) from exc
        except (ImproperlyConfigured, EmbeddedServerError) as exc:
            # a setting found wrong on use (an embedded location, LIMPYD_REDIS_SERVER...):
            # the message names the alias and the key
            raise CommandError(str(exc)) from exc

    def get_database(self, alias: str | None) -> RedisDatabase | None:
        """The database of ``alias`` (``None`` for ``None``), or ``CommandError``."""
        if alias is None:
            return None
        self.using = alias
        if not isinstance(alias, str) or alias not in databases:
            raise CommandError(
                f"Unknown database {alias!r}: {SETTING} defines "
                f"{', '.join(repr(a) for a in databases) or 'none'}."
            )
        try:
            return databases[alias]
        except ImproperlyConfigured as exc:
            named = str(exc).startswith(f"{SETTING}[{alias!r}]")
            raise CommandError(str(exc) if named else f"{SETTING}[{alias!r}]: {exc}") from exc

    def check_positive(self, name: str, value: Any) -> int:
        """``value`` if it is a positive integer, else ``CommandError`` naming ``--name``."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CommandError(f"--{name} must be a positive integer, got {value!r}.")
        return value

    # -- models ---------------------------------------------------------------------

    @staticmethod
    def known_models() -> str:
        """The labels of every registered model, for error messages."""
        return ", ".join(sorted(model._meta.label for model in registry.get_models())) or "none"

    def resolve_model(self, label: Any) -> type:
        """The registered model of ``app_label.ModelName``, or ``CommandError``."""
        if not isinstance(label, str) or label.count(".") != 1 or "" in label.split("."):
            raise CommandError(
                f"{label!r} is not a model label: expected 'app_label.ModelName' "
                f"(known models: {self.known_models()})."
            )
        try:
            return registry.get_model(label)
        except LookupError:
            raise CommandError(
                f"Unknown Redis model {label!r}. Known models: {self.known_models()}."
            ) from None

    def resolve_models(self, labels: Iterable[Any]) -> list[type]:
        """The models of ``labels``, each once, in the order given."""
        models: list[type] = []
        for label in labels:
            model = self.resolve_model(label)
            if model not in models:
                models.append(model)
        return models

    def models_on(self, alias: str | None) -> list[type]:
        """Every registered model, or those declared on ``alias``."""
        return [
            model for model in registry.get_models() if alias is None or model_alias(model) == alias
        ]

    def model_database(self, model: type, alias: str | None = None) -> RedisDatabase:
        """The database of ``model``; ``CommandError`` if it is not ``alias``'s
        (when ``alias`` is given) or is not configured."""
        label = model._meta.label
        declared = model_alias(model)
        if alias is not None and declared != alias:
            hint = f"add --database {declared}" if declared else "it uses a hand-built database"
            raise CommandError(
                f"{label} lives on the {declared!r} database, not on {alias!r}: {hint}. "
                "Nothing was done."
            )
        self.using = declared
        try:
            return model._meta.database
        except ImproperlyConfigured as exc:
            raise CommandError(f"{label}: {exc}") from exc

    # -- keys -----------------------------------------------------------------------

    def scan_chunks(
        self, database: RedisDatabase, match: str | None, count: int | None = None
    ) -> Iterator[list[str]]:
        """The keys matching ``match`` (SCAN), in lists of up to ``count`` keys."""
        count = count or self.chunk_size
        return chunks(database.scan_keys(match=match, count=count), count)

    def count_keys(
        self, database: RedisDatabase, match: str, label: str, sample: int = 0
    ) -> tuple[int, list[str]]:
        """How many keys match ``match``, and a uniform sample of up to ``sample`` of them.

        A key may be counted twice if the database is resized during the scan
        (SCAN guarantees every key, not each key once).
        """
        progress = Progress(self, label, "keys counted", None)
        picked: list[str] = []
        seen = 0
        rng = random.Random()
        for chunk in self.scan_chunks(database, match):
            for key in chunk:
                seen += 1
                if len(picked) < sample:
                    picked.append(key)
                elif sample:
                    slot = rng.randrange(seen)
                    if slot < sample:
                        picked[slot] = key
            progress.advance(len(chunk))
        progress.finish()
        return seen, picked

    def unlink_keys(
        self,
        database: RedisDatabase,
        match: str,
        label: str,
        total: int,
        keep: frozenset[str] = frozenset(),
    ) -> int:
        """UNLINK every key matching ``match`` but those of ``keep``, ``chunk_size`` at a
        time; keys deleted."""
        connection = database.connection
        progress = Progress(self, label, "keys deleted", total)
        deleted = 0
        for chunk in self.scan_chunks(database, match):
            doomed = [key for key in chunk if key not in keep]
            if doomed:
                deleted += connection.unlink(*doomed)
            progress.advance(len(doomed))
        progress.finish()
        return deleted

    # -- output ---------------------------------------------------------------------

    @staticmethod
    def ask(prompt: str) -> str:
        """The answer typed after ``prompt`` (no answer, as when stdin is closed: "no")."""
        try:
            return input(prompt)
        except (EOFError, KeyboardInterrupt):
            return "no"

    def write_table(self, headers: list[str], rows: list[list[Any]], numeric: set[int]) -> None:
        """Write an aligned table on stdout (columns in ``numeric`` aligned right)."""
        cells = [headers] + [["" if value is None else str(value) for value in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
        for row in cells:
            parts = [
                value.rjust(widths[i]) if i in numeric else value.ljust(widths[i])
                for i, value in enumerate(row)
            ]
            self.stdout.write("  ".join(parts).rstrip())
