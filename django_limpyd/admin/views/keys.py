"""The key browser of a database: read-only, SCAN-based, cursor-paged.

What the user types is *text*, never a pattern: it is escaped with
:func:`~django_limpyd.storage.keys.glob_escape` and matched as the start (or a
part) of key names, so ``*``, ``?`` and ``[`` find themselves. It only ever
reaches Redis as the ``MATCH`` argument of ``SCAN``; the page sends nothing
but reads (``SCAN``, ``TYPE``, ``PTTL``, ``MEMORY USAGE`` and the readers'
size and preview commands), never ``KEYS``, and answers nothing but GET.

Choosing a model scans that model's keys only (``ModelKeys.scan_pattern``);
the text then narrows them. A page runs ``SCAN`` calls until it has about
``count`` keys (or the scan ends, or after a bounded number of calls) and links
to the next cursor. Each key shows the model it belongs to, when a registered
model of the database owns it (``ModelKeys.owns``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from redis.exceptions import ResponseError

from django_limpyd.admin.filters import query_string
from django_limpyd.admin.readers import RAW, READERS, as_text, reader_for
from django_limpyd.admin.views.base import RedisAdminView
from django_limpyd.admin.views.instance import format_ttl
from django_limpyd.exceptions import LimpydException
from django_limpyd.storage.keys import glob_escape

__all__ = ["KeyBrowserView", "scan_pattern"]

#: keys per page: default and most
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
#: most SCAN calls for one page (bounds the work of a page on a big database)
MAX_SCANS = 50
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


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


class KeyBrowserView(RedisAdminView):
    """``-/keys/<alias>/``: the keys of a database, with type, TTL, memory and preview."""

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
        count = _int(params.get("count"), PAGE_SIZE, 1, MAX_PAGE_SIZE)
        cursor = _int(params.get("cursor"), 0, 0, 2**64 - 1)
        models = self._models(database)
        chosen = next((m for m in models if m._meta.label_lower == params.get("model")), None)
        # a model's keys (its own SCAN pattern), or the keys matching the text
        pattern = chosen._meta.keys.scan_pattern if chosen else scan_pattern(text, mode)
        connection = database.connection
        keys, next_cursor, scans = self._scan(connection, pattern, cursor, count)
        if chosen is not None and text:
            keys = [key for key in keys if self._matches(as_text(key)[0], text, mode)]
        rows = self._describe(connection, sorted(set(keys)), models)
        return self.render(
            "django_limpyd/key_browser.html",
            title=f"Keys of the {alias!r} database",
            alias=alias,
            text=text,
            mode=mode,
            modes=MODES.items(),
            count=count,
            model_choices=[(m._meta.label_lower, m._meta.label) for m in models],
            chosen_label=chosen._meta.label_lower if chosen is not None else "",
            pattern=pattern,
            rows=rows,
            cursor=cursor,
            scans=scans,
            next_url=query_string(params, cursor=str(next_cursor)) if next_cursor else None,
            first_url=query_string(params, cursor=None) if cursor else None,
            index_url=self.site.reverse("index"),
        )

    @staticmethod
    def _matches(key: str, text: str, mode: str) -> bool:
        return text in key if mode == "contains" else key.startswith(text)

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

    @staticmethod
    def _scan(connection: Any, pattern: str, cursor: int, count: int) -> tuple[list, int, int]:
        """Keys (bytes) from ``cursor`` until about ``count`` are found; the next cursor
        (0: the scan is over) and how many SCAN calls it took."""
        found: list[bytes] = []
        scans = 0
        hint = max(count, 100)
        while True:
            cursor, keys = connection.execute_command(
                "SCAN", cursor, "MATCH", pattern, "COUNT", hint, **RAW
            )
            scans += 1
            found.extend(keys)
            if not cursor or len(found) >= count or scans >= MAX_SCANS:
                return found, int(cursor), scans

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
