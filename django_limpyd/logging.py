"""Command logging, like Django's ``django.db.backends`` logger.

With ``LIMPYD_LOG_COMMANDS = True`` (default: the value of ``DEBUG``), every
round trip of a database is logged at DEBUG level on the logger
``django_limpyd.commands``, with the alias, the commands and the duration: one
readable line per round trip, the calls of a pipeline separated by ``|``.

The calls of a model's function library are named by what they do, never by
their Lua source or their JSON plan (:mod:`django_limpyd.log_format`)::

    (0.001) create demo.Person pk=auto; 1 call; alias=default
    (0.000) write demo.Person.name pk=3 HSET; 1 call; alias=default
    (0.001) collection demo.Person filters=city=Paris sort=birth_year; 1 call; alias=default
    (0.000) HGET {demo:Person}:h:3 city; 1 call; alias=default

The record's ``commands`` (extra) keeps the commands as sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

__all__ = ["CommandLogger", "logger", "logging_enabled"]

logger = logging.getLogger("django_limpyd.commands")


def logging_enabled() -> bool:
    """True if commands should be logged (``LIMPYD_LOG_COMMANDS``, else ``DEBUG``)."""
    from django.conf import settings

    if not settings.configured:
        return False
    from django_limpyd.conf import get_setting

    value = get_setting("LIMPYD_LOG_COMMANDS")
    return bool(settings.DEBUG if value is None else value)


class CommandLogger:
    """An observer logging each round trip of one database."""

    def __init__(self, alias: str | None) -> None:
        self.alias = alias

    def __call__(self, commands: Sequence[tuple[Any, ...]], duration: float) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        from django_limpyd.log_format import describe_commands

        count = len(commands)
        logger.debug(
            "(%.3f) %s; %d call%s; alias=%s",
            duration,
            describe_commands(commands),
            count,
            "" if count == 1 else "s",
            self.alias,
            extra={"duration": duration, "commands": list(commands), "alias": self.alias},
        )
