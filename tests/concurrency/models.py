"""Models and worker entry points of the concurrency tests.

Worker processes are started with the ``spawn`` method: they import this module
afresh, so everything they run (models, index transforms, worker functions)
lives here at module level. Every model is bound to :data:`DATABASE`, a
hand-built ``RedisDatabase`` that each process (the test process included)
points at the session's private server with ``DATABASE.connect(**kwargs)``.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from typing import Any

from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.fields import (
    HashField,
    InstanceHashField,
    ListField,
    PKField,
    SetField,
    StringField,
)
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel

#: never contacted before ``connect(**kwargs)`` points it at the private server
DATABASE = RedisDatabase()


def first_letter(value: str) -> str | None:
    """Index transform: the first character (a module-level function, for spawn)."""
    return value[:1] or None


FirstLetterIndex = EqualIndex.configure(transform=first_letter, name="FirstLetterIndex")


class ConcurrencyModel(RedisModel):
    abstract = True
    database = DATABASE
    namespace = "concurrency"


# -- 1. unique creates --------------------------------------------------------------


class UniqueString(ConcurrencyModel):
    code = StringField(unique=True)
    label = StringField(indexable=True)


class UniqueHash(ConcurrencyModel):
    code = InstanceHashField(unique=True)
    label = InstanceHashField(indexable=True)


class UniquePK(ConcurrencyModel):
    """The pk itself is the contended value (and a unique field holds it too)."""

    id = PKField()
    code = StringField(unique=True)


# -- 2. AutoPK ----------------------------------------------------------------------


class Numbered(ConcurrencyModel):
    name = InstanceHashField(indexable=True)
    worker = StringField(indexable=True)


# -- 3. concurrent updates ----------------------------------------------------------


class Busy(ConcurrencyModel):
    color = InstanceHashField(indexable=True)
    score = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    code = StringField(unique=True)
    hits = StringField(indexable=True, indexes=[NumberRangeIndex])
    tags = SetField(indexable=True)
    items = ListField(indexable=True)
    attrs = HashField(indexable=True)


# -- 4. delete vs update ------------------------------------------------------------


class Doomed(ConcurrencyModel):
    color = InstanceHashField(indexable=True)
    score = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    name = StringField(indexable=True)
    tags = SetField(indexable=True)
    items = ListField(indexable=True)


# -- 5. Python transforms -----------------------------------------------------------


class Transformed(ConcurrencyModel):
    name = StringField(indexable=True, indexes=[FirstLetterIndex])
    initial = InstanceHashField(unique=True, indexes=[FirstLetterIndex])
    tags = SetField(indexable=True, indexes=[FirstLetterIndex])


MODELS = {
    model.__name__: model
    for model in (UniqueString, UniqueHash, UniquePK, Numbered, Busy, Doomed, Transformed)
}

COLORS = ("red", "green", "blue", "black", "white")
TAGS = tuple(f"t{i}" for i in range(8))
ITEMS = tuple(f"i{i}" for i in range(6))
#: 26 initials: unique-by-first-letter values of Transformed.initial conflict often
WORDS = tuple(f"{letter}{n}" for letter in "abcdefghijklmnopqrstuvwxyz" for n in range(3))


# -- worker plumbing ----------------------------------------------------------------


def setup_worker(root: str, connection_kwargs: dict[str, Any]) -> None:
    """Make a fresh (spawned) process ready: sys.path, Django, the database."""
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    DATABASE.connect(**connection_kwargs)
    DATABASE.load_scripts()  # connected, scripts loaded: only the race is left


def worker_loop(
    root: str, connection_kwargs: dict[str, Any], tasks: Any, results: Any, index: int
) -> None:
    """Process target: set up once, then run jobs from ``tasks`` until ``None`` comes.

    A task is ``(batch, job, args, start_at)``: the worker waits until the wall
    clock reaches ``start_at`` (the same instant for every worker of the
    batch), then runs ``JOBS[job](*args, start_at=start_at)``. It answers on
    ``results`` with ``(index, batch, True, result)`` or ``(index, batch, False,
    traceback)``; ``batch`` is ``"ready"`` once set up.
    """
    try:
        setup_worker(root, connection_kwargs)
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


def sleep_until(moment: float) -> None:
    """Sleep until the wall clock (shared by every process of the host) reaches ``moment``."""
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


# -- jobs (each returns a dict of counts) -------------------------------------------


def create_unique(
    model_name: str, values: list[str], via_write: bool, step: float, *, start_at: float
) -> dict[str, Any]:
    """Try to create one instance per value; the constructor or a first write creates.

    Value ``k`` is tried at ``start_at + k * step`` by every worker: each value
    is a fresh race between all of them.
    """
    model = MODELS[model_name]
    won: dict[str, str] = {}
    lost: dict[str, str] = {}
    for k, value in enumerate(values):
        sleep_until(start_at + k * step)
        try:
            if model is UniquePK:
                instance = model(id=value, code=value)
            elif via_write:
                instance = model()
                if model is UniqueString:
                    instance.code.set(value)  # write.lua creates the instance
                else:
                    instance.code.hset(value)
            else:
                instance = model(code=value, label=f"label-{value}")
        except UniquenessError as error:
            lost[value] = str(error)
        else:
            won[value] = instance.pk.get()
    return {"won": won, "lost": lost}


def create_many(count: int, worker: str, *, start_at: float) -> dict[str, Any]:
    """Create ``count`` Numbered instances, alternating constructor and first write."""
    pks = []
    for i in range(count):
        if i % 2:
            instance = Numbered()
            instance.name.hset(f"{worker}-{i}")  # created by write.lua (AutoPK)
            instance.worker.set(worker)
        else:
            instance = Numbered(name=f"{worker}-{i}", worker=worker)  # create.lua
        pks.append(instance.pk.get())
    return {"pks": pks}


def update_busy(
    pks: list[str], seconds: float, seed: int, codes: list[str], *, start_at: float
) -> dict[str, Any]:
    """Random writes on indexed fields of the given Busy instances for ``seconds``."""
    rng = random.Random(seed)
    counts = {"ops": 0, "conflicts": 0, "spop_empty": 0}
    instances = [Busy.lazy_connect(pk) for pk in pks]
    deadline = start_at + seconds
    while time.time() < deadline:
        instance = rng.choice(instances)
        op = rng.randrange(14)
        try:
            if op == 0:
                instance.color.hset(rng.choice(COLORS))
            elif op == 1:
                instance.code.set(rng.choice(codes))
            elif op == 2:
                instance.tags.sadd(*rng.sample(TAGS, rng.randint(1, 3)))
            elif op == 3:
                instance.tags.srem(*rng.sample(TAGS, rng.randint(1, 2)))
            elif op == 4:
                if instance.tags.spop() is None:
                    counts["spop_empty"] += 1
            elif op == 5:
                instance.items.rpush(*rng.sample(ITEMS, rng.randint(1, 2)))
            elif op == 6:
                instance.items.lrem(0, rng.choice(ITEMS))
            elif op == 7:
                instance.hits.incr()
            elif op == 8:
                instance.hits.incrby(rng.randint(-5, 5))
            elif op == 9:
                instance.score.hincrby(rng.randint(-3, 7))
            elif op == 10:
                instance.hmset(color=rng.choice(COLORS), score=rng.randint(-50, 50))
            elif op == 11:
                instance.attrs.hset(rng.choice(ITEMS), rng.choice(COLORS))
            elif op == 12:
                instance.attrs.hdel(rng.choice(ITEMS))
            else:
                instance.color.delete()
        except UniquenessError:
            counts["conflicts"] += 1
        counts["ops"] += 1
    return counts


def delete_doomed(pks: list[str], seconds: float, seed: int, *, start_at: float) -> dict[str, Any]:
    """Delete the given Doomed instances in random order, spread over ``seconds``."""
    rng = random.Random(seed)
    order = list(pks)
    rng.shuffle(order)
    counts = {"deleted": 0, "already_gone": 0}
    pause = seconds / max(len(order), 1)
    for pk in order:
        if Doomed.lazy_connect(pk).delete():
            counts["deleted"] += 1
        else:
            counts["already_gone"] += 1
        time.sleep(rng.uniform(0, 2 * pause))
    return counts


def write_doomed(pks: list[str], seconds: float, seed: int, *, start_at: float) -> dict[str, Any]:
    """Random writes on Doomed instances (some being deleted meanwhile) for ``seconds``."""
    rng = random.Random(seed)
    counts = {"ops": 0, "written": 0, "does_not_exist": 0}
    deadline = start_at + seconds
    while time.time() < deadline:
        pk = rng.choice(pks)
        op = rng.randrange(8)
        counts["ops"] += 1
        try:
            # connecting checks existence: the instance may vanish before the write
            instance = Doomed(pk) if op % 2 else Doomed.lazy_connect(pk)
            if op == 0:
                instance.color.hset(rng.choice(COLORS))
            elif op == 1:
                instance.name.set(f"n{rng.randrange(10)}")
            elif op == 2:
                instance.tags.sadd(*rng.sample(TAGS, 2))
            elif op == 3:
                instance.tags.spop()
            elif op == 4:
                instance.items.rpush(rng.choice(ITEMS))
            elif op == 5:
                instance.items.lrem(0, rng.choice(ITEMS))
            elif op == 6:
                instance.hmset(color=rng.choice(COLORS), score=rng.randint(0, 9))
            else:
                instance.score.hincrby(1)
        except Doomed.DoesNotExist:
            counts["does_not_exist"] += 1
        else:
            counts["written"] += 1
    return counts


def update_transformed(
    pks: list[str], seconds: float, seed: int, *, start_at: float
) -> dict[str, Any]:
    """Random writes on fields indexed through a Python transform for ``seconds``."""
    rng = random.Random(seed)
    counts = {"ops": 0, "conflicts": 0, "does_not_exist": 0, "transform_retries_exhausted": 0}
    instances = [Transformed.lazy_connect(pk) for pk in pks]
    deadline = start_at + seconds
    while time.time() < deadline:
        instance = rng.choice(instances)
        op = rng.randrange(7)
        counts["ops"] += 1
        try:
            if op in (0, 1):
                instance.name.set(rng.choice(WORDS))
            elif op == 2:
                instance.initial.hset(rng.choice(WORDS))
            elif op == 3:
                instance.initial.delete()
            elif op == 4:
                instance.tags.sadd(*rng.sample(WORDS, 2))
            elif op == 5:
                instance.tags.srem(*rng.sample(WORDS, 3))
            else:
                instance.tags.spop()
        except UniquenessError:
            counts["conflicts"] += 1
        except Transformed.DoesNotExist:
            counts["does_not_exist"] += 1  # deleted by a concurrent deleter (test 6)
        except ImplementationError as error:
            # "the values to index kept changing": nothing written, reported as a count
            if "kept changing" not in str(error):
                raise
            counts["transform_retries_exhausted"] += 1
    return counts


def delete_transformed(pks: list[str], seconds: float, *, start_at: float) -> dict[str, Any]:
    """Delete the given Transformed instances one by one, spread over ``seconds``."""
    counts = {"deleted": 0, "already_gone": 0, "transform_retries_exhausted": 0}
    pause = seconds / max(len(pks), 1)
    for k, pk in enumerate(pks):
        sleep_until(start_at + (k + 0.5) * pause)
        while True:
            try:
                deleted = Transformed.lazy_connect(pk).delete()
            except ImplementationError as error:
                if "kept changing" not in str(error):
                    raise
                counts["transform_retries_exhausted"] += 1  # nothing deleted: try again
                continue
            counts["deleted" if deleted else "already_gone"] += 1
            break
    return counts


JOBS = {
    "create_unique": create_unique,
    "create_many": create_many,
    "update_busy": update_busy,
    "delete_doomed": delete_doomed,
    "write_doomed": write_doomed,
    "update_transformed": update_transformed,
    "delete_transformed": delete_transformed,
}
