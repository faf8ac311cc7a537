"""``manage.py limpyd_embedded start|stop|status [--database ALIAS]``.

Acts on the embedded redis-server of every ``embedded://`` location of
``LIMPYD_DATABASES`` (or of one alias). Aliases sharing a directory share a
server, which is handled once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_limpyd.connections import databases
from django_limpyd.embedded import (
    SCHEME,
    EmbeddedServerError,
    ensure_server,
    format_status,
    parse_location,
    server_status,
    stop_server,
)
from django_limpyd.settings_parser import SETTING


def embedded_directories(alias: str | None) -> dict[Path, tuple[str, str]]:
    """Map each server directory to the (alias, location) that first names it.

    Raises ``CommandError`` for an unknown or non-embedded ``alias``, or when
    no location is embedded.
    """
    aliases = list(databases) if alias is None else [alias]
    directories: dict[Path, tuple[str, str]] = {}
    for name in aliases:
        try:
            location = databases.get_config(name).location
        except ImproperlyConfigured as exc:  # includes an unknown alias
            raise CommandError(str(exc)) from exc
        if not location.startswith(SCHEME):
            if alias is not None:
                raise CommandError(
                    f"{SETTING}[{name!r}] is {location!r}, not an {SCHEME} location; "
                    "only embedded servers are managed by this command."
                )
            continue
        try:
            directory, _db = parse_location(location)
        except ImproperlyConfigured as exc:
            raise CommandError(f"{SETTING}[{name!r}]: {exc}") from exc
        directories.setdefault(directory, (name, location))
    if not directories:
        raise CommandError(f"No location of {SETTING} is {SCHEME}.")
    return directories


class Command(BaseCommand):
    help = "Start, stop or describe the embedded redis-server(s) of LIMPYD_DATABASES."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("start", "stop", "status"))
        parser.add_argument(
            "--database",
            metavar="ALIAS",
            help="only the server of this LIMPYD_DATABASES alias (default: every embedded one)",
        )

    def handle(self, *args: Any, action: str, database: str | None, **options: Any) -> None:
        for directory, (alias, location) in embedded_directories(database).items():
            if action == "start":
                try:
                    socket_path = ensure_server(directory, location=location)
                except (ImproperlyConfigured, EmbeddedServerError) as exc:
                    where = f"{SETTING}[{alias!r}]['LOCATION'] = {location!r}"
                    raise CommandError(f"{where}: {exc}") from exc
                self.stdout.write(f"{alias}: running at {socket_path}")
            elif action == "stop":
                stopped = stop_server(directory)
                self.stdout.write(f"{alias}: {'stopped' if stopped else 'not running'}")
            else:
                status = format_status(server_status(directory))
                self.stdout.write(f"{alias} ({location})\n{status}")
