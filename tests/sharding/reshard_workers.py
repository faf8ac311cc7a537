"""What the processes of the resharding tests run: the application (the model declared
``resharding_from``) writing and reading while ``limpyd_reshard`` moves its instances,
and the command itself, killed between two steps."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from django_limpyd.exceptions import UniquenessError
from tests.sharding import reshard_models


def _reported(function: Any) -> Any:
    """``function`` putting ``("error", traceback)`` on its results queue if it fails."""

    def run(*args: Any) -> None:
        try:
            function(*args)
        except BaseException:
            import traceback

            args[-1].put(("error", traceback.format_exc()))
            raise

    run.__name__ = run.__qualname__ = function.__name__
    return run


def _during() -> type:
    return reshard_models.order_model(6, resharding_from=4)


@_reported
def count_hits(server: dict, seed: int, count: int, stop: Any, results: Any) -> None:
    """Increment ``hits`` of random instances of 1..count (lazily connected, as a view
    would); report how many increments each pk got (acknowledged ones only)."""
    reshard_models.DATABASE.connect(**server)
    Order = _during()
    rng = random.Random(seed)
    done: dict[str, int] = {}
    while not stop.is_set():
        pk = str(rng.randrange(1, count + 1))
        Order.lazy_connect(pk).hits.incr()
        done[pk] = done.get(pk, 0) + 1
    results.put(("hits", done))


@_reported
def swap_codes(server: dict, seed: int, count: int, stop: Any, results: Any) -> None:
    """Give random instances a new unique code, sometimes one another instance holds
    (refused); report the code each instance was last given successfully."""
    reshard_models.DATABASE.connect(**server)
    Order = _during()
    rng = random.Random(seed)
    given: dict[str, str] = {}
    refused = 0
    step = 0
    while not stop.is_set():
        pk = str(rng.randrange(1, count + 1))
        step += 1
        code = f"c{rng.randrange(count)}" if step % 3 == 0 else f"s{seed}-{step}"
        try:
            Order(pk).code.hset(code)
            given[pk] = code
        except UniquenessError:
            refused += 1
    results.put(("codes", given, refused))


@_reported
def create(server: dict, seed: int, stop: Any, results: Any) -> None:
    """Create instances (kind "z"); report their pks."""
    reshard_models.DATABASE.connect(**server)
    Order = _during()
    pks = []
    number = 0
    while not stop.is_set():
        number += 1
        pks.append(Order(code=f"new{seed}-{number}", kind="z", score="0").pk.get())
        time.sleep(0.002)
    results.put(("created", pks))


@_reported
def read(server: dict, expected_a: list[str], page: list[str], stop: Any, results: Any) -> None:
    """Read the instances of kind "a" (which nobody changes) again and again: their
    count, their set, a page by score; report every read that was not exact."""
    reshard_models.DATABASE.connect(**server)
    Order = _during()
    wrong: list[str] = []
    reads = 0
    while not stop.is_set():
        reads += 1
        count = len(Order.collection(kind="a"))
        if count != len(expected_a):
            wrong.append(f"count {count}")
        found = list(Order.collection(kind="a"))
        if sorted(found) != sorted(expected_a):
            wrong.append(f"set of {len(found)}, {len(set(found))} distinct")
        ordered = list(Order.collection(kind="a").sort(by="score")[5:15])
        if ordered != page:
            wrong.append(f"page {ordered}")
    results.put(("read", reads, wrong))


def reshard(server: dict, batch: int, crash_at: str | None) -> None:
    """``limpyd_reshard``'s work, killed at ``crash_at`` if given."""
    if crash_at:
        os.environ["LIMPYD_SHARD_CRASH_AT"] = crash_at
    reshard_models.DATABASE.connect(**server)
    from django_limpyd.sharding import moves

    moves.run(_during(), batch)
