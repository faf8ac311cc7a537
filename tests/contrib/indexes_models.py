"""Models and worker entry points of the contrib indexes concurrency tests.

Worker processes are started with the ``spawn`` method: they import this module
afresh, so the models and the jobs live here at module level. Every model is
bound to :data:`DATABASE`, a hand-built ``RedisDatabase`` that each process (the
test process included) points at the session's private server with
``DATABASE.connect(**kwargs)``.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from typing import Any

from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.indexes import (
    DateIndex,
    DateTimeIndex,
    EqualIndexWith,
    ScoredEqualIndex,
)
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import UniquenessError
from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel

#: never contacted before ``connect(**kwargs)`` points it at the private server
DATABASE = RedisDatabase()


class ContribModel(RedisModel):
    abstract = True
    database = DATABASE
    namespace = "contrib_indexes_concurrency"


class Queue(ContribModel):
    """The seeds' Queue: name and priority unique together."""

    name = InstanceHashField(
        indexable=True,
        indexes=[EqualIndex, EqualIndexWith.configure(other_fields=["priority"], unique=True)],
    )
    priority = InstanceHashField()


class Agenda(ContribModel):
    """Date/time indexes, a scored index, and an index of two fields, written at once."""

    collection_manager = ExtendedCollectionManager
    when = InstanceHashField(indexable=True, indexes=[DateTimeIndex])
    day = StringField(indexable=True, indexes=[DateIndex])
    priority = InstanceHashField()
    queue_name = InstanceHashField(
        indexable=True, indexes=[ScoredEqualIndex.configure(score_field="priority")]
    )
    weight = StringField()
    tag = StringField(indexable=True, indexes=[ScoredEqualIndex.configure(score_field="weight")])
    slot = InstanceHashField(
        indexable=True, indexes=[EqualIndexWith.configure(other_fields=["queue_name"], unique=True)]
    )


MODELS = {model.__name__: model for model in (Queue, Agenda)}

QUEUES = ("q0", "q1", "q2")
TAGS = ("red", "green", "blue")
SLOTS = tuple(f"s{i}" for i in range(6))


def random_datetime(rng: random.Random) -> str:
    return (
        f"{rng.choice((2014, 2015, 2016))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    )


# -- worker plumbing ----------------------------------------------------------------


def setup_worker(root: str, connection_kwargs: dict[str, Any]) -> None:
    """Make a fresh (spawned) process ready: sys.path, Django, the database."""
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    DATABASE.connect(**connection_kwargs)
    DATABASE.load_scripts()


def sleep_until(moment: float) -> None:
    """Sleep until the wall clock (shared by every process of the host) reaches ``moment``."""
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def worker_loop(
    root: str, connection_kwargs: dict[str, Any], tasks: Any, results: Any, index: int
) -> None:
    """Process target: set up once, then run ``(batch, job, args, start_at)`` tasks until
    ``None``; answer ``(index, batch, ok, result or traceback)`` (``"ready"`` first)."""
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
                results.put((index, batch, True, JOBS[job](*args, start_at=start_at)))
            except BaseException:
                results.put((index, batch, False, traceback.format_exc()))
    finally:
        DATABASE.close()


# -- jobs -----------------------------------------------------------------------------


def claim_together(
    combos: list[tuple[str, str]], own_pks: list[str] | None, step: float, *, start_at: float
) -> dict[str, Any]:
    """Try to take each ``(name, priority)`` combination of Queue at ``start_at + k * step``.

    Without ``own_pks`` a new instance is created (create.lua); with them the
    priority of an existing instance that has only its name is written
    (write.lua, moving the index entry of another field: ``name``'s).
    """
    won: dict[str, str] = {}
    lost: dict[str, str] = {}
    for k, (name, priority) in enumerate(combos):
        sleep_until(start_at + k * step)
        label = f"{name}/{priority}"
        try:
            if own_pks is None:
                instance = Queue(name=name, priority=priority)
            else:
                instance = Queue.lazy_connect(own_pks[k])
                instance.priority.hset(priority)
        except UniquenessError as error:
            lost[label] = str(error)
        else:
            won[label] = instance.pk.get()
    return {"won": won, "lost": lost}


def write_agenda(pks: list[str], seconds: float, seed: int, *, start_at: float) -> dict[str, Any]:
    """Random writes on every indexed field of the given Agenda instances."""
    rng = random.Random(seed)
    counts = {"ops": 0, "conflicts": 0, "does_not_exist": 0}
    deadline = start_at + seconds
    while time.time() < deadline:
        instance = Agenda.lazy_connect(rng.choice(pks))
        op = rng.randrange(16)
        counts["ops"] += 1
        try:
            if op == 0:
                instance.when.hset(random_datetime(rng))
            elif op == 1:
                instance.when.delete()
            elif op == 2:
                instance.day.set(random_datetime(rng)[:10])
            elif op == 3:
                instance.hmset(when=random_datetime(rng), priority=rng.randint(-5, 20))
            elif op == 4:
                instance.priority.hset(rng.randint(-5, 20))
            elif op == 5:
                instance.priority.hincrby(rng.randint(-3, 3))
            elif op == 6:
                instance.priority.delete()
            elif op == 7:
                instance.queue_name.hset(rng.choice(QUEUES))
            elif op == 8:
                instance.queue_name.delete()
            elif op == 9:
                instance.weight.set(rng.uniform(0, 10))
            elif op == 10:
                instance.weight.incrbyfloat(rng.uniform(-1, 1))
            elif op == 11:
                instance.tag.set(rng.choice(TAGS))
            elif op == 12:
                instance.weight.delete()
            elif op == 13:
                instance.slot.hset(rng.choice(SLOTS))
            elif op == 14:
                instance.hmset(slot=rng.choice(SLOTS), queue_name=rng.choice(QUEUES))
            else:
                instance.hdel("slot", "priority")
        except UniquenessError:
            counts["conflicts"] += 1
        except Agenda.DoesNotExist:
            counts["does_not_exist"] += 1
    return counts


JOBS = {"claim_together": claim_together, "write_agenda": write_agenda}
