"""Command logging, like Django's ``django.db.backends`` logger.

With ``LIMPYD_LOG_COMMANDS = True`` (default: the value of ``DEBUG``), every
round trip of a database is logged at DEBUG level on the logger
``django_limpyd.commands``, with the alias, the commands and the duration.
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


def _shown(part: Any) -> str:
    text = part.decode(errors="replace") if isinstance(part, bytes) else str(part)
    return text if len(text) <= 200 else text[:197] + "..."


class CommandLogger:
    """An observer logging each round trip of one database."""

    def __init__(self, alias: str | None) -> None:
        self.alias = alias

    def __call__(self, commands: Sequence[tuple[Any, ...]], duration: float) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        shown = " | ".join(" ".join(_shown(part) for part in command) for command in commands)
        logger.debug(
            "(%.3f) %s; alias=%s",
            duration,
            shown,
            self.alias,
            extra={"duration": duration, "commands": list(commands), "alias": self.alias},
        )
