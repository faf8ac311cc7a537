"""The key browser of a database: read-only, SCAN-based, cursor-paged.

What the user types is *text*, never a pattern: it is escaped with
:func:`~django_limpyd.storage.keys.glob_escape` and matched as the start (or a
part) of key names, so ``*``, ``?`` and ``[`` find themselves. It only ever
reaches Redis as the ``MATCH`` argument of ``SCAN``; the page sends nothing
but reads (``DBSIZE``, ``SCAN``, ``TYPE``, ``TTL``, ``MEMORY USAGE`` and the
readers' size and preview commands), never ``KEYS``, and answers nothing but
GET.

Choosing a model scans that model's keys only (``ModelKeys.scan_pattern``);
the text then narrows them. Each key shows the model it belongs to, when a
registered model of the database owns it (``ModelKeys.owns``).

A page is filled by :class:`PageScan`: ``SCAN`` calls from the cursor of the
URL until ``count`` keys matched, the scan is over, or the budget of a request
is spent (the site's ``key_browser_max_scans`` calls). The ``COUNT`` hint
starts at the page size and grows with how rare matches are (up to the site's
``key_browser_max_scan_count``), so a selective pattern on a big keyspace still
fills its page in a few calls, and a broad one does not fetch much more than a
page. SCAN returns keys in batches that cannot be split (its cursor only
resumes after a whole batch), so a page keeps every match of its last batch: it
may hold a few more keys than asked, never skips one. A key returned twice
(SCAN may, when Redis resizes its table) is shown once per page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from redis.exceptions import ResponseError

from django_limpyd.admin.filters import query_string
from django_limpyd.admin.readers import RAW, READERS, as_text, reader_for
from django_limpyd.admin.views.base import RedisAdminView
from django_limpyd.admin.views.instance import format_ttl
from django_limpyd.client_cluster import is_cluster, primary_clients
from django_limpyd.exceptions import LimpydException
from django_limpyd.storage.keys import glob_escape

__all__ = ["KeyBrowserView", "PageScan", "scan_pattern"]

#: keys per page: default, least and most
PAGE_SIZE, MIN_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1, 1000
#: the largest SCAN cursor (an unsigned 64-bit integer)
#: a SCAN cursor (on a Redis Cluster, node cursor * primaries + node index: node
#: cursors index hash tables, far below 2**64 / primaries)
MAX_CURSOR = 2**64 - 1
#: what a preview shows: items of a collection, characters of a value
PREVIEW_ITEMS, PREVIEW_CHARS = 5, 80
#: the longest text accepted
MAX_TEXT = 512
MODES = {"prefix": "starts with", "contains": "contains"}
MISSING = READERS["none"]


def scan_pattern(text: str, mode: str) -> str:
    """The ``MATCH`` pattern of SCAN for keys starting with (or containing) ``text``:
    every glob character of ``text`` escaped, so it matches only itself."""
    escaped = glob_escape(text)
    return ("*" if mode == "contains" else "") + escaped + "*"


def _bounded(raw: str | None, name: str, default: int, low: int, high: int) -> tuple[int, str]:
    """``(number, error)``: ``raw`` as an int within ``[low, high]``; a value that is
    not a number is replaced by ``default``, one out of bounds by the nearest bound,
    with an error saying so (``""``: none)."""
    if raw is None or raw == "":
        return default, ""
    try:
        number = int(raw)
    except ValueError:
        return default, f"{name}: {raw[:40]!r} is not a number; {default} is used."
    if number < low:
        return low, f"{name}: {number} is less than {low}; {low} is used."
    if number > high:
        return high, f"{name}: {number} is more than {high}; {high} is used."
    return number, ""


@dataclass
class PageScan:
    """The ``SCAN`` calls of one page: from ``cursor`` until ``count`` keys matched,
    the scan is over, or ``max_scans`` calls were sent.

    ``keep`` (optional) narrows the keys ``MATCH`` found (the text, when a model's
    pattern was scanned). The first call also asks ``DBSIZE`` (same round trip).
    """

    connection: Any
    pattern: str
    cursor: int
    count: int
    max_scans: int
    max_scan_count: int
    keep: Callable[[bytes], bool] | None = None
    #: what the scan found (bytes, in the order found, each once)
    keys: list[bytes] = field(default_factory=list)
    #: the cursor to continue with (0: the scan is over)
    next_cursor: int = 0
    #: SCAN calls sent, and the sum of their COUNT hints (about the keys examined)
    calls: int = 0
    examined: int = 0
    #: keys in the database (DBSIZE, when the page started)
    dbsize: int | None = None

    def run(self) -> PageScan:
        found: dict[bytes, None] = {}
        cursor, hint = self.cursor, min(self.count, self.max_scan_count)
        while True:
            cursor, batch = self._call(cursor, hint)
            for key in batch:
                if self.keep is None or self.keep(key):
                    found[key] = None  # once per page, however many times SCAN gives it
            if not cursor or len(found) >= self.count or self.calls >= self.max_scans:
                break
            hint = self._next_hint(hint, len(found))
        self.keys, self.next_cursor = list(found), cursor
        return self

    def _call(self, cursor: int, hint: int) -> tuple[int, list[bytes]]:
        if is_cluster(self.connection):
            return self._call_nodes(cursor, hint)
        args = ("SCAN", cursor, "MATCH", self.pattern, "COUNT", hint)
        if self.calls == 0:
            pipe = self.connection.pipeline(transaction=False)
            pipe.dbsize()
            pipe.execute_command(*args, **RAW)
            self.dbsize, (cursor, batch) = pipe.execute()
        else:
            cursor, batch = self.connection.execute_command(*args, **RAW)
        self.calls += 1
        self.examined += hint
        return int(cursor), batch

    def _call_nodes(self, cursor: int, hint: int) -> tuple[int, list[bytes]]:
        """On a Redis Cluster: one primary after the other (in name order), the page's
        cursor holding both: ``node cursor * primaries + node index``."""
        nodes = primary_clients(self.connection)
        index, node_cursor = cursor % len(nodes), cursor // len(nodes)
        if index >= len(nodes):
            return 0, []
        if self.calls == 0:
            self.dbsize = sum(node.dbsize() for node in nodes)
        args = ("SCAN", node_cursor, "MATCH", self.pattern, "COUNT", hint)
        node_cursor, batch = nodes[index].execute_command(*args, **RAW)
        self.calls += 1
        self.examined += hint
        if int(node_cursor):
            return int(node_cursor) * len(nodes) + index, batch
        return (index + 1 if index + 1 < len(nodes) else 0), batch

    def _next_hint(self, hint: int, matched: int) -> int:
        """The next COUNT hint: enough keys to fill the page at the rate seen so far,
        at most four times the last hint (a rate seen on few keys is rough; while
        nothing matched, four times), within ``[count, max_scan_count]``."""
        wanted = hint * 4
        if matched:
            wanted = min(wanted, math.ceil((self.count - matched) * self.examined / matched))
        return max(min(wanted, self.max_scan_count), min(self.count, self.max_scan_count))

    @property
    def examined_about(self) -> int:
        """About how many keys the calls examined (their COUNT hints; no more than the
        database holds)."""
        if self.dbsize is None:
            return self.examined
        return min(self.examined, self.dbsize)

    @property
    def complete(self) -> bool:
        """True when the scan reached the end of the keyspace."""
        return self.next_cursor == 0

    @property
    def budget_spent(self) -> bool:
        """True when the page stopped for its budget, before being full."""
        return not self.complete and len(self.keys) < self.count


class KeyBrowserView(RedisAdminView):
    """``-/keys/<alias>/``: the keys of a database, with type, TTL, memory and preview.

    The budget of a page comes from the site (``key_browser_max_scans`` SCAN calls,
    each with a COUNT hint of at most ``key_browser_max_scan_count``): a page
    examines about their product of keys at most.
    """

    def get(self, request: HttpRequest, alias: str) -> HttpResponse:
        from django_limpyd.connections import databases

        self.site.autodiscover()
        if alias not in databases:
            raise Http404(f"No Redis database {alias!r}.")
        try:
            database = databases[alias]
        except LimpydException:
            raise Http404(f"No Redis database {alias!r}.") from None
        params = request.GET
        text = params.get("q", "")[:MAX_TEXT]
        mode = params.get("match") if params.get("match") in MODES else "prefix"
        count, count_error = _bounded(
            params.get("count"), "Per page", PAGE_SIZE, MIN_PAGE_SIZE, MAX_PAGE_SIZE
        )
        cursor, cursor_error = _bounded(params.get("cursor"), "Cursor", 0, 0, MAX_CURSOR)
        errors = [error for error in (count_error, cursor_error) if error]
        models = self._models(database)
        chosen = next((m for m in models if m._meta.label_lower == params.get("model")), None)
        pattern, keep = self._pattern(chosen, text, mode)
        scan = None
        if pattern is not None:
            scan = PageScan(
                database.connection,
                pattern,
                cursor,
                count,
                max_scans=max(1, self.site.key_browser_max_scans),
                max_scan_count=max(1, self.site.key_browser_max_scan_count),
                keep=keep,
            ).run()
        keys = sorted(scan.keys) if scan is not None else []
        next_cursor = scan.next_cursor if scan is not None else 0
        return self.render(
            "django_limpyd/key_browser.html",
            title=f"Keys of the {alias!r} database",
            alias=alias,
            text=text,
            mode=mode,
            modes=MODES.items(),
            count=count,
            min_count=MIN_PAGE_SIZE,
            max_count=MAX_PAGE_SIZE,
            errors=errors,
            model_choices=[(m._meta.label_lower, m._meta.label) for m in models],
            chosen_label=chosen._meta.label_lower if chosen is not None else "",
            pattern=pattern if pattern is not None else chosen._meta.keys.scan_pattern,
            rows=self._describe(database.connection, keys, models),
            cursor=cursor,
            scan=scan,
            next_url=query_string(params, cursor=str(next_cursor), count=str(count))
            if next_cursor
            else None,
            first_url=query_string(params, cursor=None, count=str(count)) if cursor else None,
            index_url=self.site.reverse("index"),
        )

    def _pattern(
        self, chosen: type | None, text: str, mode: str
    ) -> tuple[str | None, Callable[[bytes], bool] | None]:
        """``(MATCH pattern, keep)``: what SCAN matches, and the test of the keys it
        returns (``None``: all kept). ``(None, None)``: nothing can match (a model's
        keys starting with a text that no key of the model starts with)."""
        if chosen is None:
            return scan_pattern(text, mode), None
        own = chosen._meta.keys.scan_pattern
        if not text:
            return own, None
        prefix = chosen._meta.keys.prefix + ":"
        if mode == "prefix":
            if text.startswith(prefix):
                return scan_pattern(text, mode), None  # the text narrows the pattern
            if prefix.startswith(text):
                return own, None  # every key of the model starts with the text
            return None, None
        return own, lambda key: text in as_text(key)[0]

    def _models(self, database: Any) -> list[type]:
        models = []
        for model in self.site.get_models():
            try:
                if model._meta.database is database:
                    models.append(model)
            except LimpydException:
                continue
        for model in database.models.values():
            if model not in models and model._meta.app_label is not None:
                models.append(model)
        return sorted(models, key=lambda m: m._meta.label_lower)

    def _describe(self, connection: Any, keys: list[bytes], models: list[type]) -> list[dict]:
        """Type, TTL, memory, size, preview and model of each key (two round trips)."""
        if not keys:
            return []
        pipe = connection.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("TYPE", key, **RAW)
            pipe.execute_command("TTL", key)
            pipe.execute_command("MEMORY USAGE", key)
        first = pipe.execute(raise_on_error=False)
        readers = [reader_for(first[i * 3]) for i in range(len(keys))]
        pipe = connection.pipeline(transaction=False)
        for key, reader in zip(keys, readers, strict=True):
            reader.queue(pipe, key, PREVIEW_ITEMS, PREVIEW_CHARS)
        second = iter(pipe.execute(raise_on_error=False))
        rows = []
        for i, (key, reader) in enumerate(zip(keys, readers, strict=True)):
            replies = [next(second) for _ in range(reader.replies)]
            name = as_text(key)[0]
            if any(isinstance(reply, ResponseError) for reply in replies):
                data = MISSING.shape([], 0, None)  # deleted (or changed type) meanwhile
            else:
                data = reader.shape(replies, PREVIEW_ITEMS, PREVIEW_CHARS)
            memory = first[i * 3 + 2]
            owner = next((m for m in models if m._meta.keys.owns(name)), None)
            rows.append(
                {
                    "key": name,
                    "type": reader.type if reader.type != "other" else as_text(first[i * 3])[0],
                    "ttl": format_ttl(first[i * 3 + 1]),
                    "memory": filesizeformat(memory) if isinstance(memory, int) else "—",
                    "data": data,
                    "model_label": owner._meta.label if owner is not None else "",
                    "model_url": self.site.reverse(
                        "changelist", owner._meta.app_label, owner._meta.model_name
                    )
                    if owner is not None
                    else None,
                }
            )
        return rows
