"""Models and jobs of the related fields' concurrency test (``test_related_concurrency``).

Worker processes are started with the ``spawn`` method: they import this module
afresh, so the models and the jobs live here at module level. Every model is
bound to :data:`DATABASE`, pointed at the session's private server by
:func:`setup_worker` in each process (and by the test in its own).
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Any

from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MListField,
    M2MSetField,
    M2MSortedSetField,
    RelatedModel,
)
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import UniquenessError
from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.indexes import EqualIndex, NumberRangeIndex

#: never contacted before ``connect(**kwargs)`` points it at the private server
DATABASE = RedisDatabase()


class Base(RelatedModel):
    abstract = True
    database = DATABASE
    namespace = "related_concurrency"


class Person(Base):
    name = InstanceHashField(indexable=True)
    mentor = FKStringField("self", related_name="mentees")
    friends = M2MSetField("self", related_name="friend_of")


class Group(Base):
    name = InstanceHashField(indexable=True)
    owner = FKStringField(Person, related_name="owned")
    # unique, and indexed otherwise too
    leader = FKInstanceHashField(
        Person, unique=True, indexes=[EqualIndex, NumberRangeIndex], related_name="led"
    )
    members = M2MSetField(Person, related_name="membership")
    queue = M2MListField(Person, related_name="queued")
    ranking = M2MSortedSetField(Person, related_name="ranked")
    label = StringField(indexable=True)


MODELS = (Person, Group)


#: set in each worker process: every process waits there once set up (see ready())
BARRIER: Any = None


def setup_worker(root: str, connection_kwargs: dict[str, Any], barrier: Any) -> None:
    """Pool initializer of a fresh (spawned) process: sys.path, Django, the database."""
    global BARRIER
    BARRIER = barrier
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    DATABASE.connect(**connection_kwargs)
    DATABASE.load_scripts()


def ready(_index: int) -> int:
    """A first job, one per process: returns when every process of the pool is set up
    (each waits at the barrier, so each takes exactly one of these jobs)."""
    BARRIER.wait(timeout=90)
    return os.getpid()


def sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def write_relations(
    person_pks: list[str], group_pks: list[str], seconds: float, seed: int, start_at: float
) -> dict[str, int]:
    """Random writes pointing groups and persons to persons (some being deleted)."""
    sleep_until(start_at)
    rng = random.Random(seed)
    counts = {"ops": 0, "written": 0, "target_missing": 0, "source_missing": 0, "unique": 0}
    deadline = start_at + seconds
    while time.time() < deadline:
        counts["ops"] += 1
        pks = rng.sample(person_pks, 3)
        group = Group.lazy_connect(rng.choice(group_pks))
        person = Person.lazy_connect(rng.choice(person_pks))
        op = rng.randrange(16)
        try:
            if op == 0:
                group.members.sadd(*pks)
            elif op == 1:
                group.members.srem(*pks[:2])
            elif op == 2:
                group.queue.rpush(pks[0], pks[1], pks[0])  # duplicates
            elif op == 3:
                group.queue.lrem(1, pks[0])
            elif op == 4:
                group.ranking.zadd({pks[0]: rng.randint(0, 9), pks[1]: rng.random()})
            elif op == 5:
                group.ranking.zincrby(1, pks[2])
            elif op == 6:
                group.owner.set(pks[0])
            elif op == 7:
                group.leader.hset(pks[0])
            elif op == 8:
                group.hmset(name=f"n{rng.randrange(5)}", leader=pks[1])
            elif op == 9:
                Group(name="new", owner=pks[0], members=pks, queue=pks[:2], ranking={pks[2]: 1})
            elif op == 10:
                group.queue.linsert("before", pks[0], pks[1])
            elif op == 11:
                person.friends.sadd(*pks)
            elif op == 12:
                person.mentor.set(pks[0])
            elif op == 13:
                person.friends.srem(pks[0])
            elif op == 14:
                group.queue.ltrim(0, 5)
            else:
                group.label.set(f"l{rng.randrange(4)}")
        except Person.DoesNotExist as error:
            # the target (or, for the person's own fields, the person) is gone
            if "cannot point to" in str(error):
                counts["target_missing"] += 1
            else:
                counts["source_missing"] += 1
        except Group.DoesNotExist:
            counts["source_missing"] += 1
        except UniquenessError:
            counts["unique"] += 1
        else:
            counts["written"] += 1
    return counts


def delete_persons(pks: list[str], seconds: float, seed: int, start_at: float) -> dict[str, int]:
    """Delete the given persons in random order, spread over ``seconds``."""
    sleep_until(start_at)
    rng = random.Random(seed)
    order = list(pks)
    rng.shuffle(order)
    counts = {"deleted": 0, "already_gone": 0}
    pause = seconds / max(len(order), 1)
    for k, pk in enumerate(order):
        sleep_until(start_at + k * pause)
        if Person.lazy_connect(pk).delete():
            counts["deleted"] += 1
        else:
            counts["already_gone"] += 1
    return counts
