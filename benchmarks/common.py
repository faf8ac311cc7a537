"""Shared helpers of the benchmarks: a private redis-server, timers, memory, output.

Nothing here touches a server the benchmark did not start: :func:`private_server`
runs a throw-away ``redis-server`` (unix socket in a short temporary directory,
no persistence) and stops it on the way out, whatever happens.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

__all__ = [
    "MiB",
    "Timer",
    "batches",
    "configure_django",
    "format_table",
    "machine_description",
    "machine_line",
    "max_rss_mib",
    "private_server",
    "timed",
    "traced_peak",
    "write_json",
]

MiB = 1024 * 1024


def configure_django() -> None:
    """Minimal Django settings so that models work outside a Django project."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    django.setup()


@contextmanager
def private_server(**kwargs: Any) -> Iterator[Any]:
    """A started :class:`PrivateRedisServer` (no persistence), stopped on exit.

    The directory is short (``/tmp/lpdb-...``): unix socket paths are limited
    to about 107 bytes.
    """
    from django_limpyd.test.server import PrivateRedisServer

    with tempfile.TemporaryDirectory(prefix="lpdb-") as directory:
        server = PrivateRedisServer(directory, **kwargs)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def batches(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items of ``iterable`` (lazily)."""
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


# -- time -----------------------------------------------------------------------------


@dataclass
class Timer:
    """Wall time of a ``with timed() as t:`` block (``t.seconds`` once it ended)."""

    start: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    """Measure the wall time of the block: ``with timed() as t: ...; t.seconds``."""
    timer = Timer()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - timer.start


# -- memory ---------------------------------------------------------------------------


def max_rss_mib() -> float:
    """The process' peak resident set size so far, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def traced_peak(function: Callable[[], Any]) -> tuple[Any, float]:
    """``(result, peak)``: run ``function`` under tracemalloc; ``peak`` is the highest
    Python allocation above what was allocated before the call, in MiB."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, (peak - before) / MiB


# -- the machine ----------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _redis_server_version(binary: str | None = None) -> str:
    try:
        if binary is None:
            from django_limpyd.servers import find_redis_server

            binary = find_redis_server()
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except Exception:  # a description, never a failure
        return "unknown"
    for part in output.split():
        if part.startswith("v="):
            return part[2:]
    return output.strip() or "unknown"


def _running_server_version(server: Any) -> str | None:
    """``redis_version`` of ``INFO server`` of a started private server, if it answers."""
    try:
        client = server.client()
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()
    except Exception:  # a description, never a failure
        return None


def machine_description(server: Any = None) -> dict[str, Any]:
    """CPU model, cores, Python, redis-py and redis-server versions, date (UTC).

    With ``server`` (a started ``PrivateRedisServer``), the version is the one
    that server reports, and its binary is recorded (``redis_server_binary``).
    """
    import redis

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": usable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "redis_py": redis.__version__,
        "redis_server": (server is not None and _running_server_version(server))
        or _redis_server_version(getattr(server, "binary", None)),
        "redis_server_binary": getattr(server, "binary", None),
        "platform": platform.platform(terse=True),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def machine_line(description: dict[str, Any]) -> str:
    """One line describing the machine, printed above every result table."""
    d = description
    return (
        f"{d['cpu']}, {d['usable_cores']}/{d['cores']} cores; {d['implementation']} "
        f"{d['python']}, redis-py {d['redis_py']}, redis-server {d['redis_server']}; "
        f"{d['platform']}; {d['date']}"
    )


# -- output ---------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table: text columns left-aligned, numbers right-aligned."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    cells = [[cell(value) for value in row] for row in rows]

    def is_number(value: Any) -> bool:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))

    numeric = [bool(rows) and all(is_number(row[i]) for row in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join(
        [line(list(headers)), line(["-" * w for w in widths]), *(line(row) for row in cells)]
    )


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented JSON (parent directories created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
