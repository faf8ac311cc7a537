"""Unique fields of a sharded model: one value, one instance, across every shard
(django_limpyd/sharding/unique.py), including when a writing process is SIGKILLed
between two steps of the protocol."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from typing import Any

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.sharding import unique
from tests.sharding import unique_models
from tests.sharding.unique_models import Account


@pytest.fixture
def accounts(redis_server):
    unique_models.DATABASE.connect(**unique_models.connection_kwargs(redis_server))
    yield Account
    unique_models.DATABASE.close()


def _holders(value):
    return list(Account.collection(email=value))


def test_a_value_is_held_once_across_shards(accounts):
    first = Account(email="a@x", name="ann")
    # the next creates go to other shards: their own unique index cannot see "a@x"
    for _ in range(Account._meta.shards):
        with pytest.raises(UniquenessError, match="a@x"):
            Account(email="a@x", name="bob")
    assert _holders("a@x") == [first.pk.get()]
    second = Account(email="b@x")
    with pytest.raises(UniquenessError):
        second.email.hset("a@x")
    assert second.email.hget() == "b@x"
    first.email.hset("c@x")  # "a@x" is free again, "c@x" taken
    second.email.hset("a@x")
    with pytest.raises(UniquenessError):
        Account(email="c@x")
    first.delete()
    Account(email="c@x")
    second.hmset(email="d@x", name="bee")
    Account(email="a@x")
    assert consistency_check(Account) == []


def _run(step: str, action: str, server: dict) -> int:
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_interrupted, args=(step, action, server))
    process.start()
    process.join(timeout=60)
    return process.exitcode


def _interrupted(step: str, action: str, server: dict) -> None:
    os.environ["LIMPYD_SHARD_CRASH_AT"] = step
    unique_models.DATABASE.connect(**server)
    if action == "create":
        Account(email="v@x")
    elif action == "update":
        Account.get(email="old@x").email.hset("v@x")
    elif action == "delete":
        Account.get(email="v@x").delete()


@pytest.mark.parametrize(
    ("step", "action", "held_after_repair", "found"),
    [
        ("after_reserve", "create", False, 1),  # the create never ran: the value is free
        ("after_write", "create", True, 1),  # it ran: the reservation goes to its instance
        ("after_reserve", "update", False, 1),
        ("after_write", "update", True, 2),  # and the old value is still reserved
        ("after_delete", "delete", False, 1),  # deleted: the value is released
    ],
)
def test_a_write_killed_between_two_steps_is_found_and_repaired(
    accounts, redis_server, step, action, held_after_repair, found
):
    server = unique_models.connection_kwargs(redis_server)
    if action == "update":
        Account(email="old@x")
    if action == "delete":
        Account(email="v@x")
    assert _run(step, action, server) == -9  # SIGKILLed at that step
    problems = consistency_check(Account)
    assert len(problems) == found, problems
    print(f"\n[sharded unique] killed {action} at {step}: {problems}")
    # until it is repaired, nobody else takes the value
    if not (action == "delete" or (action == "update" and step == "after_write")):
        with pytest.raises(UniquenessError):
            Account(email="v@x")
    assert unique.repair(Account) == found
    assert consistency_check(Account) == []
    if action == "update":  # the old value is free in every case
        Account(email="old@x" if step == "after_write" else "other@x")
    holders = _holders("v@x")
    assert bool(holders) is held_after_repair
    if held_after_repair:
        with pytest.raises(UniquenessError):
            Account(email="v@x")
    else:
        Account(email="v@x")
    assert len(_holders("v@x")) == 1
    assert consistency_check(Account) == []


def test_a_revoked_reservation_refuses_its_late_write(accounts):
    """A repair may run while a write is between its reserve and its write: the fence
    it sets makes that write refuse, nothing written."""
    instance = Account()  # unsaved, in one of the shards
    reserved = unique._Reserved(type(instance))
    reserved.reserve(Account._meta.database.connection, {"email": "late@x"}, None)
    assert unique.repair(Account) == 1  # found pending, no instance: revoked
    with pytest.raises(UniquenessError, match="revoked"):
        reserved.fenced(lambda: instance.email.hset("late@x"))
    assert _holders("late@x") == []
    Account(email="late@x")  # free again


def _race(server: dict, seed: int, values: list[str], results: Any) -> None:
    unique_models.DATABASE.connect(**server)
    won = []
    for value in values:
        with contextlib.suppress(UniquenessError):
            won.append(Account(email=value, name=str(seed)).pk.get())
    results.put(won)


def test_processes_racing_for_the_same_values_hold_each_once(accounts, redis_server):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    values = [f"race{number}@x" for number in range(60)]
    server = unique_models.connection_kwargs(redis_server)
    processes = [
        context.Process(target=_race, args=(server, seed, values, results)) for seed in range(4)
    ]
    for process in processes:
        process.start()
    won = [pk for _ in processes for pk in results.get(timeout=60)]
    for process in processes:
        process.join(timeout=30)
    assert len(won) == len(values)  # each value created exactly once
    for value in values:
        assert len(_holders(value)) == 1
    assert consistency_check(Account) == []
