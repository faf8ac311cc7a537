"""The access blocker: Redis refused to the tests that did not ask for it.

:data:`blocker` makes every Redis access raise :class:`DatabaseAccessBlocked`
while it is blocked, except for what a test asked for. It replaces the
``RedisDatabase.connection`` property while blocking (as pytest-django patches
Django's ``ensure_connection``) and puts it back afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from difflib import get_close_matches
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_limpyd.exceptions import LimpydException

__all__ = ["ALL", "AccessBlocker", "DatabaseAccessBlocked", "blocker", "check_aliases"]

#: ``limpyd_databases = ALL``: every alias.
ALL = "__all__"


class DatabaseAccessBlocked(LimpydException, RuntimeError):
    """A test touched Redis without asking for it."""


def check_aliases(aliases: Iterable[str] | str, where: str) -> frozenset[str] | str:
    """``aliases`` as :data:`ALL` or a frozenset, each defined in ``LIMPYD_DATABASES``."""
    if aliases == ALL:
        return ALL
    from django_limpyd.connections import databases

    chosen = frozenset([aliases] if isinstance(aliases, str) else aliases)
    known = list(databases)
    for alias in sorted(chosen):
        if alias not in known:
            close = get_close_matches(alias, known, n=1)
            raise ImproperlyConfigured(
                f"{where} refers to {alias!r}, which LIMPYD_DATABASES does not define "
                f"(defined: {', '.join(known) or 'none'})."
                + (f" Did you mean {close[0]!r}?" if close else "")
            )
    return chosen


# -- the access blocker ---------------------------------------------------------------


class _Hold:
    """An applied change of the blocker: ``release()`` it, or use it as a context manager."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()

    def __enter__(self) -> _Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class AccessBlocker:
    """Blocks Redis access, except for the aliases that something unblocked.

    ``block()`` and ``unblock(aliases)`` apply at once and return a hold to
    release (or a context manager). While at least one block is held, a
    database is usable only if an unblock covers its alias (a hand-built
    database, which has none, needs any unblock).
    """

    def __init__(self) -> None:
        self._blocks: list[_Hold] = []
        self._allowed: list[tuple[_Hold, frozenset[str] | str]] = []
        self._original: property | None = None
        self._lock = threading.RLock()

    @property
    def is_blocked(self) -> bool:
        """True while a block is held."""
        return bool(self._blocks)

    def block(self) -> _Hold:
        """Block every database not unblocked (until the hold is released)."""
        with self._lock:
            hold = _Hold(lambda: self._release_block(hold))
            self._blocks.append(hold)
            self._install()
        return hold

    def unblock(self, aliases: Iterable[str] | str = ALL) -> _Hold:
        """Allow ``aliases`` (default: all) until the hold is released."""
        allowed = aliases if aliases == ALL else frozenset(aliases)
        with self._lock:
            hold = _Hold(lambda: self._release_unblock(hold))
            self._allowed.append((hold, allowed))
        return hold

    def allows(self, alias: str | None) -> bool:
        """Whether the database of ``alias`` (``None``: hand-built) may be used now."""
        if not self._blocks:
            return True
        for _hold, allowed in self._allowed:
            if allowed == ALL or alias is None or alias in allowed:
                return True
        return False

    def message(self, alias: str | None) -> str:
        """The error of a blocked access to ``alias``."""
        what = f"the Redis database {alias!r}" if alias else "a hand-built RedisDatabase"
        granted = sorted({a for _hold, allowed in self._allowed for a in allowed})
        if granted:
            return (
                f"Access to {what} is not allowed in this test, which asked only for "
                f"{', '.join(map(repr, granted))}: add {alias!r} to limpyd_databases "
                "(TestCase) or to the databases of the `limpyd` pytest marker."
            )
        return (
            f"Redis access not allowed in this test ({what}): use "
            "django_limpyd.test.TestCase (or LimpydTestMixin), or the `limpyd` pytest "
            "marker / `limpyd_db` fixture."
        )

    def _release_block(self, hold: _Hold) -> None:
        with self._lock:
            self._blocks.remove(hold)
            if not self._blocks:
                self._uninstall()

    def _release_unblock(self, hold: _Hold) -> None:
        with self._lock:
            self._allowed = [entry for entry in self._allowed if entry[0] is not hold]

    def _install(self) -> None:
        from django_limpyd.database import RedisDatabase

        if self._original is not None:
            return
        original = RedisDatabase.__dict__["connection"]

        def guarded(database: RedisDatabase) -> Any:
            __tracebackhide__ = True  # pytest shows the caller, not this frame
            if not self.allows(database.alias):
                raise DatabaseAccessBlocked(self.message(database.alias))
            return original.fget(database)

        self._original = original
        RedisDatabase.connection = property(guarded, doc=original.__doc__)  # type: ignore[method-assign]

    def _uninstall(self) -> None:
        from django_limpyd.database import RedisDatabase

        if self._original is not None:
            RedisDatabase.connection = self._original  # type: ignore[method-assign]
            self._original = None


#: The blocker of this process.
blocker = AccessBlocker()
