"""Redis test databases: what the test runner and the pytest plugin share.

During a test run every alias of ``LIMPYD_DATABASES`` is pointed (with
:meth:`RedisDatabase.use_location`) at a *test location*, so a run never
touches the data of its settings:

* by default, its own database number on a **private redis-server** started by
  the run in a temporary directory (unix socket, no persistence) and stopped at
  the end; aliases sharing a ``LOCATION`` share a test database;
* ``"TEST": {"LOCATION": url}``: that URL; ``"TEST": {"DB": n}``: database
  ``n`` of the alias's own server (both: database ``n`` of that URL).

Each slot (the main process is slot 0, parallel worker ``k`` is slot ``k``)
has its own databases: on the private server, ``slot * groups + group``; on a
``TEST`` location, its database number plus the slot (plus ``db_offset``).

A ``TEST`` location that holds keys the run did not create is flushed only
once ``confirm(message)`` says yes; ``keepdb`` keeps the data at the end (a
marker key tells the next ``keepdb`` run that it is test data).

The access blocker lives in :mod:`django_limpyd.test.blocker` (re-exported
here). This module passes ~400 lines because :class:`TestDatabases` is one
plan (locations, slots, confirmation, keepdb, worker hand-over) best read in
one place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from redis.exceptions import RedisError

from django_limpyd.exceptions import LimpydException
from django_limpyd.test.blocker import (
    ALL,
    AccessBlocker,
    DatabaseAccessBlocked,
    blocker,
    check_aliases,
)
from django_limpyd.test.dbrange import check_test_databases

__all__ = [
    "ALL",
    "MARKER_KEY",
    "AccessBlocker",
    "DatabaseAccessBlocked",
    "TestDatabases",
    "TestLocationRefused",
    "active",
    "blocker",
    "check_aliases",
    "require_active",
    "short_tempdir",
    "url_db",
    "with_db",
]

#: Set in a ``TEST`` location at the end of a ``keepdb`` run: its data is test data.
MARKER_KEY = "django_limpyd:test-location"

#: The plan of a run, for parallel workers started with ``spawn``.
ENVIRONMENT_VARIABLE = "DJANGO_LIMPYD_TEST_DATABASES"

#: Fewest databases of a private server (its tests may use more than the aliases').
PRIVATE_MIN_DATABASES = 16


class TestLocationRefused(LimpydException):
    """A test location holds data that the run was not allowed to flush."""

    __test__ = False  # not a test class for pytest


# -- URLs -----------------------------------------------------------------------------


def url_db(url: str) -> int:
    """The database number of a ``redis://``, ``unix://`` or ``embedded://`` URL."""
    base, _, query = url.partition("?")
    for key, value in parse_qsl(query):
        if key == "db":
            return int(value)
    scheme, _, rest = base.partition("://")
    if scheme in ("redis", "rediss"):
        path = rest.partition("/")[2].strip("/")
        if path:
            return int(path)
    return 0


def with_db(url: str, db: int) -> str:
    """``url`` pointing at database ``db`` (in the path of ``redis://``, else ``?db=``)."""
    base, _, query = url.partition("?")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "db"]
    scheme, _, rest = base.partition("://")
    if scheme in ("redis", "rediss"):
        base = f"{scheme}://{rest.partition('/')[0]}/{db}"
    else:
        pairs.append(("db", str(db)))
    return base + ("?" + urlencode(pairs) if pairs else "")


def _key_count(client: Any) -> int:
    """DBSIZE of a database, summed over the primaries of a Redis Cluster."""
    from django_limpyd.client_cluster import is_cluster

    if is_cluster(client):
        return sum(client.dbsize(target_nodes=client.PRIMARIES).values())
    return client.dbsize()


def _signature(entry: Any) -> str:
    """What must stay equal for an alias to keep its test location after a settings change."""
    if not isinstance(entry, dict):
        return repr(entry)
    where = {key: entry.get(key) for key in ("LOCATION", "CACHE", "TEST")}
    return json.dumps(where, sort_keys=True, default=repr)


# -- test databases -------------------------------------------------------------------

_active: TestDatabases | None = None


def active() -> TestDatabases | None:
    """The test databases in use in this process, if a run set them up."""
    return _active


def require_active(what: str) -> TestDatabases:
    """:func:`active`, or an error saying how to run ``what``."""
    if _active is None:
        raise ImproperlyConfigured(
            f"{what} needs the Redis test databases, which are not set up: run the tests "
            "with TEST_RUNNER = 'django_limpyd.test.runner.DiscoverRunner', or with pytest "
            "and the django_limpyd plugin (installed with django_limpyd)."
        )
    return _active


def short_tempdir() -> str:
    """A new temporary directory whose ``redis.sock`` fits in a unix socket address."""
    from django_limpyd.servers import MAX_UNIX_SOCKET_PATH

    directory = tempfile.mkdtemp(prefix="lpd-")
    if len(os.fsencode(os.path.join(directory, "redis.sock"))) > MAX_UNIX_SOCKET_PATH:
        os.rmdir(directory)
        directory = tempfile.mkdtemp(prefix="lpd-", dir="/tmp")
    return directory


class TestDatabases:
    """The test location of every alias, for every slot of one test run.

    ``workers``: parallel worker processes that share this run's locations
    (slots ``1..workers``; the process that sets up is slot 0).
    ``db_offset``: added to the database numbers of ``TEST`` locations (a
    pytest-xdist worker, which sets up its own slot, uses its index + 1).
    ``server_factory(databases)``: returns a started private server with at
    least that many databases; by default the run starts (and stops) its own.
    ``process_name``: how errors name the process of slot 0 (e.g. a pytest-xdist
    worker; default ``"main process"``); ``later_processes``: how many processes of
    the run take the next database numbers (the other xdist workers after this one).
    """

    __test__ = False  # not a test class for pytest

    def __init__(
        self,
        *,
        workers: int = 0,
        db_offset: int = 0,
        keepdb: bool = False,
        server_factory: Callable[[int], Any] | None = None,
        log: Callable[[str], None] | None = None,
        verbosity: int = 1,
        process_name: str = "main process",
        later_processes: int = 0,
    ) -> None:
        self.workers = workers
        self.process_name = process_name
        self.later_processes = later_processes
        self.db_offset = db_offset
        self.keepdb = keepdb
        self.server_factory = server_factory
        self.log = log or (lambda message: None)
        self.verbosity = verbosity
        #: slot -> alias -> URL
        self.urls: dict[int, dict[str, str]] = {}
        #: aliases on the private server
        self.private: set[str] = set()
        #: Redis Cluster aliases on a private cluster (one per slot)
        self.private_clusters: set[str] = set()
        self._clusters: dict[int, Any] = {}
        self.signatures: dict[str, str] = {}
        self.server: Any = None
        self.slot: int | None = None
        self._own_server: Any = None
        self._own_directory: str | None = None
        self._admins: dict[str, Any] = {}
        self._admins_pid = os.getpid()
        self._databases: dict[str, Any] = {}

    # -- plan -----------------------------------------------------------------------

    def setup(self, confirm: Callable[[str], bool] | None = None) -> TestDatabases:
        """Plan every location, start the private server if needed, empty the locations
        (``confirm`` decides for foreign data; ``None`` refuses), and activate slot 0.

        On failure nothing is flushed and the private server is stopped.
        """
        try:
            self._plan(confirm)
        except BaseException:
            self._release()
            raise
        self.activate(0)
        return self

    def _plan(self, confirm: Callable[[str], bool] | None) -> None:
        from django_limpyd.connections import databases

        aliases = list(databases)
        configs = {alias: databases.get_config(alias) for alias in aliases}
        entries = databases.settings
        self.signatures = {alias: _signature(entries[alias]) for alias in aliases}
        groups: list[str] = []
        shared: dict[str, str] = {}
        for alias, config in configs.items():
            test = config.test
            if config.is_cluster and "LOCATION" not in test:
                self.private_clusters.add(alias)
            elif "LOCATION" in test or "DB" in test:
                url = test.get("LOCATION", config.location)
                shared[alias] = with_db(url, test["DB"]) if "DB" in test else url
            else:
                self.private.add(alias)
                if config.location not in groups:
                    groups.append(config.location)
        slots = range(self.workers + 1)
        if self.private:
            self.server = self._start_server(max(PRIVATE_MIN_DATABASES, len(slots) * len(groups)))
            self._grant_credentials([configs[alias] for alias in self.private])
        if self.private_clusters:
            for slot in slots:
                self._clusters[slot] = self._start_cluster()
        for slot in slots:
            urls = self.urls[slot] = {}
            for alias, config in configs.items():
                if alias in self.private_clusters:
                    urls[alias] = self._clusters[slot].url
                elif "+cluster://" in shared.get(alias, ""):
                    urls[alias] = self._cluster_location(alias, shared[alias], slot)
                elif alias in self.private:
                    db = slot * len(groups) + groups.index(config.location)
                    urls[alias] = with_db(self.server.url, db)
                else:
                    base = shared[alias]
                    urls[alias] = with_db(base, url_db(base) + self.db_offset + slot)
        self._check_collisions(configs)
        check_test_databases(self, configs)  # every TEST DB exists, before any flush
        self._prepare(configs, confirm)

    def _start_server(self, count: int) -> Any:
        if self.server_factory is not None:
            return self.server_factory(count)
        from django_limpyd.test.server import PrivateRedisServer

        self._own_directory = short_tempdir()
        server = PrivateRedisServer(self._own_directory, extra={"databases": count})
        self._own_server = server.start()
        return server

    def _start_cluster(self) -> Any:
        from django_limpyd.test.cluster import PrivateRedisCluster

        if self._own_directory is None:
            self._own_directory = short_tempdir()
        directory = os.path.join(self._own_directory, f"cluster{len(self._clusters)}")
        return PrivateRedisCluster(directory).start()

    def _cluster_location(self, alias: str, url: str, slot: int) -> str:
        """A Redis Cluster TEST location: it has one database, so it serves one process."""
        if slot or self.db_offset:
            raise ImproperlyConfigured(
                f"The Redis Cluster TEST location {url} of LIMPYD_DATABASES[{alias!r}] has one "
                f"database and cannot serve {self._slot_name(slot) if slot else 'a worker'} "
                "too: leave TEST LOCATION out (each test process then gets a private cluster), "
                "or run the tests in one process."
            )
        return url

    @property
    def clusters(self) -> list[Any]:
        """The private Redis Clusters of this run (one per slot; stopped at teardown)."""
        return list(self._clusters.values())

    def _grant_credentials(self, configs: list[Any]) -> None:
        """Let the private server accept the USERNAME/PASSWORD of the aliases' OPTIONS."""
        credentials = {
            (config.options.get("USERNAME") or "default", config.options["PASSWORD"])
            for config in configs
            if config.options.get("PASSWORD")
        }
        if not credentials:
            return
        client = self.server.client()
        try:
            for user, password in sorted(credentials):
                client.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*")
                client.execute_command("ACL", "SETUSER", user, "+@all")
        finally:
            client.close()

    def _check_collisions(self, configs: dict[str, Any]) -> None:
        owners: dict[str, tuple[str, int]] = {}
        for slot, urls in self.urls.items():
            for alias, url in urls.items():
                other = owners.setdefault(url, (alias, slot))
                same = configs[other[0]].location == configs[alias].location
                if other != (alias, slot) and (other[1] != slot or not same):
                    raise ImproperlyConfigured(
                        f"The Redis test location {url} would serve LIMPYD_DATABASES"
                        f"[{alias!r}] ({self._slot_name(slot)}) and [{other[0]!r}] "
                        f"({self._slot_name(other[1])}): give them TEST DB numbers at least "
                        f"{self.workers + 1} apart (one per test process)."
                    )

    def _slot_name(self, slot: int) -> str:
        if slot == 0:
            return self.process_name
        return f"worker {slot}"

    def _prepare(self, configs: dict[str, Any], confirm: Callable[[str], bool] | None) -> None:
        foreign: list[tuple[str, str, int]] = []
        to_flush: list[tuple[str, str]] = []
        for slot, urls in self.urls.items():
            for alias, url in urls.items():
                admin = self._admin(alias, url)
                if alias in self.private or alias in self.private_clusters:
                    to_flush.append((alias, url))
                    continue
                try:
                    size = _key_count(admin)
                    kept = bool(admin.exists(MARKER_KEY))
                except RedisError as exc:
                    raise ImproperlyConfigured(
                        f"The Redis test location {url} of LIMPYD_DATABASES[{alias!r}] "
                        f"({self._slot_name(slot)}) cannot be used: {exc}"
                    ) from exc
                if kept and self.keepdb:
                    admin.delete(MARKER_KEY)
                    self.log(f"Keeping the Redis test location {url} (alias {alias!r}).")
                elif size and not kept:
                    foreign.append((alias, url, size))
                else:
                    to_flush.append((alias, url))
        if foreign:
            lines = "\n".join(
                f"  {url} (LIMPYD_DATABASES[{alias!r}]): {size} key(s)"
                for alias, url, size in dict.fromkeys(foreign)
            )
            message = (
                f"These Redis test locations hold keys that no test run created:\n{lines}\n"
                "The test run would flush them."
            )
            if confirm is None or not confirm(message):
                raise TestLocationRefused(message)
            to_flush.extend((alias, url) for alias, url, _size in foreign)
        for alias, url in dict.fromkeys(to_flush):
            self._admin(alias, url).flushdb()
        for slot, urls in self.urls.items():
            for alias, url in urls.items():
                where = "private redis-server" if alias in self.private else "TEST location"
                if alias in self.private_clusters:
                    where = "private Redis Cluster"
                if (slot == 0 and self.verbosity >= 1) or self.verbosity >= 2:
                    self.log(
                        f"Redis test database for alias {alias!r}"
                        f"{'' if slot == 0 else f' (worker {slot})'}: {url} ({where})"
                    )

    # -- use ------------------------------------------------------------------------

    def activate(self, slot: int) -> None:
        """Point every alias of this process at the locations of ``slot``."""
        from django_limpyd.connections import databases

        global _active
        self.slot = slot
        if self._admins_pid != os.getpid():  # a forked worker: never share sockets
            self._admins, self._admins_pid = {}, os.getpid()
        for alias, url in self.urls[slot].items():
            database = self._databases[alias] = databases[alias]
            database.use_location(url)
        setting_changed.connect(self._setting_changed, dispatch_uid=id(self))
        _active = self

    def deactivate(self) -> None:
        """Point every alias back at its setting."""
        global _active
        setting_changed.disconnect(dispatch_uid=id(self))
        for database in self._databases.values():
            database.use_location(None)
        self._databases = {}
        self.slot = None
        if _active is self:
            _active = None

    def _setting_changed(self, *, setting: str, value: Any = None, **kwargs: Any) -> None:
        """A test that overrides an alias's LOCATION (or TEST) gets what it asked for;
        the test location comes back with the original entry."""
        if setting != "LIMPYD_DATABASES" or self.slot is None:
            return
        entries = value if isinstance(value, dict) else {}
        for alias, database in self._databases.items():
            same = alias in entries and _signature(entries[alias]) == self.signatures[alias]
            database.use_location(self.urls[self.slot][alias] if same else None)

    def locations(self, aliases: Iterable[str] | str = ALL) -> dict[str, str]:
        """The URLs of this process's test databases (of ``aliases``)."""
        urls = self.urls[self.slot if self.slot is not None else 0]
        if aliases == ALL:
            return dict(urls)
        return {alias: urls[alias] for alias in aliases if alias in urls}

    def flush(self, aliases: Iterable[str] | str = ALL) -> None:
        """Empty this process's test databases (of ``aliases``), one FLUSHDB each."""
        done: set[str] = set()
        for alias, url in self.locations(aliases).items():
            if url not in done:
                done.add(url)
                self._admin(alias, url).flushdb()

    def _admin(self, alias: str, url: str) -> Any:
        """A client of ``url`` of our own (its commands are never observed nor counted)."""
        client = self._admins.get(url)
        if client is None:
            from django_limpyd.connections import build_client, databases

            client = self._admins[url] = build_client(databases.get_config(alias), url)
        return client

    # -- end ------------------------------------------------------------------------

    def teardown(self) -> None:
        """Restore the aliases; flush (or, with ``keepdb``, mark) the TEST locations;
        stop the private server if this run started it."""
        self.deactivate()
        try:
            for urls in self.urls.values():
                for alias, url in urls.items():
                    if alias in self.private or alias in self.private_clusters:
                        continue
                    admin = self._admin(alias, url)
                    if self.keepdb:
                        admin.set(MARKER_KEY, "kept by a --keepdb test run")
                    else:
                        admin.flushdb()
        finally:
            self._release()

    def _release(self) -> None:
        for client in self._admins.values():
            client.disconnect()
        self._admins = {}
        if self._own_server is not None:
            self._own_server.stop()
            self._own_server = None
        for cluster in self._clusters.values():
            cluster.stop()
        self._clusters = {}
        if self._own_directory is not None:
            shutil.rmtree(self._own_directory, ignore_errors=True)
            self._own_directory = None

    # -- parallel workers started with spawn ----------------------------------------

    def to_json(self) -> str:
        """The plan, for a worker process that rebuilds it with :meth:`from_json`."""
        return json.dumps(
            {
                "urls": self.urls,
                "private": sorted(self.private),
                "private_clusters": sorted(self.private_clusters),
                "signatures": self.signatures,
                "keepdb": self.keepdb,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TestDatabases:
        """The plan of :meth:`to_json` (nothing is started nor flushed)."""
        data = json.loads(text)
        plan = cls(keepdb=data["keepdb"])
        plan.urls = {int(slot): urls for slot, urls in data["urls"].items()}
        plan.private = set(data["private"])
        plan.private_clusters = set(data.get("private_clusters", ()))
        plan.signatures = data["signatures"]
        return plan
