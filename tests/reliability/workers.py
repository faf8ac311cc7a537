"""Client work in separate processes, started with ``spawn``, joined with timeouts.

:class:`WorkerPool` (test side) keeps spawned processes for a whole session:
starting one (Python, Django, redis-py) costs about a second of CPU. Each
process runs :func:`worker_loop`: it sets Django up once, then runs jobs of
:data:`tests.reliability.jobs.JOBS` sent to it, each job pointing the models'
database at the server it names. A batch of jobs starts at the same instant
in every process (a wall-clock time sent with the jobs).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
SPAWN = multiprocessing.get_context("spawn")
#: the longest the start-up of new worker processes may take
STARTUP_TIMEOUT = 60.0
#: jobs are sent this long before they start, so that all start at once
START_DELAY = 0.3


def sleep_until(moment: float) -> None:
    """Sleep until the wall clock (shared by every process of the host) reaches ``moment``."""
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def worker_loop(root: str, tasks: Any, results: Any, index: int) -> None:
    """Process target: set up once, then run ``(batch, job, args, start_at)`` tasks
    until ``None`` comes; answer ``(index, batch, ok, result or traceback)``."""
    try:
        if root not in sys.path:
            sys.path.insert(0, root)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from tests.reliability.jobs import JOBS
        from tests.reliability.models import DATABASE
    except BaseException:
        results.put((index, "ready", False, traceback.format_exc()))
        return
    results.put((index, "ready", True, os.getpid()))
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            batch, job, args, start_at = task
            try:
                sleep_until(start_at)
                started = time.perf_counter()
                result = JOBS[job](*args, start_at=start_at)
                result["seconds"] = time.perf_counter() - started
                results.put((index, batch, True, result))
            except BaseException:
                results.put((index, batch, False, traceback.format_exc()))
    finally:
        DATABASE.close()


class WorkerPool:
    """Spawned worker processes, set up once, each running one job per batch."""

    def __init__(self) -> None:
        self.results = SPAWN.Queue()
        self.tasks: list[Any] = []
        self.processes: list[Any] = []
        self.batches = 0
        self.broken = self.closed = False
        #: seconds spent starting processes (reported by the tests)
        self.startup_seconds = 0.0

    def ensure(self, size: int) -> None:
        """Have at least ``size`` processes, set up and idle."""
        new = range(len(self.processes), size)
        if not new:
            return
        started = time.perf_counter()
        for index in new:
            tasks = SPAWN.Queue()
            process = SPAWN.Process(
                target=worker_loop,
                args=(ROOT, tasks, self.results, index),
                name=f"reliability-worker-{index}",
                daemon=True,
            )
            self.tasks.append(tasks)
            self.processes.append(process)
            process.start()
        self._collect("ready", new, STARTUP_TIMEOUT)
        self.startup_seconds += time.perf_counter() - started

    def submit(self, jobs: list[tuple[str, tuple[Any, ...]]]) -> tuple[int, float]:
        """Send each ``(job, args)`` to its own process; ``(batch, start_at)``."""
        self.ensure(len(jobs))
        self.batches += 1
        start_at = time.time() + START_DELAY
        for tasks, (job, args) in zip(self.tasks, jobs, strict=False):
            tasks.put((self.batches, job, args, start_at))
        return self.batches, start_at

    def collect(self, batch: int, count: int, timeout: float) -> list[dict[str, Any]]:
        """The results of the ``count`` jobs of ``batch``, in job order."""
        return self._collect(batch, range(count), timeout)

    def run(self, jobs: list[tuple[str, tuple[Any, ...]]], timeout: float) -> list[dict[str, Any]]:
        """Run each ``(job, args)`` in its own process, all released at once."""
        batch, _start_at = self.submit(jobs)
        return self.collect(batch, len(jobs), timeout)

    def _collect(self, batch: Any, indexes: range, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        collected: dict[int, tuple[bool, Any]] = {}
        while len(collected) < len(indexes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(
                    f"{len(collected)}/{len(indexes)} answers for batch {batch!r} after "
                    f"{timeout}s (load average {os.getloadavg()[0]:.1f})"
                )
            try:
                index, answer_batch, ok, payload = self.results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                dead = [p.name for p in self.processes if not p.is_alive()]
                if dead:
                    self._fail(f"processes died during batch {batch!r}: {dead}")
                continue
            if answer_batch == batch and index in indexes:
                collected[index] = (ok, payload)
        failures = [payload for ok, payload in collected.values() if not ok]
        if failures:
            self._fail("failed in a worker process:\n" + "\n".join(failures))
        return [collected[index][1] for index in indexes]

    def _fail(self, message: str) -> None:
        self.broken = True  # a failed job may have left its process in any state
        pytest.fail(message, pytrace=False)

    def close(self) -> None:
        """Stop every process (politely, then by force), each join bounded."""
        if self.closed:
            return
        self.closed = self.broken = True
        for tasks, process in zip(self.tasks, self.processes, strict=True):
            if process.is_alive():
                tasks.put(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for channel in [self.results, *self.tasks]:
            channel.close()
            channel.cancel_join_thread()
