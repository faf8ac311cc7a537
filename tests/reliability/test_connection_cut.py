"""A connection cut at EVERY command position K of a write, in both ways.

Each scenario (a create, an indexed update, a counter, a delete, a pipeline
batch, ``bulk_create``, a ``transaction()``...) runs once cleanly through a
:class:`~tests.tools.proxy.FaultProxy` to count its commands and to take the
"after" snapshot (``DUMP`` of every key). Then, for each position K and each
mode (``drop_before``: the K-th command never reaches the server;
``drop_reply``: it runs, its reply is lost), the data is put back to the
"before" snapshot and the scenario runs again with the fault armed:

* the call either raises a ``ConnectionError``-family exception or completes,
  and if it completes, the data is exactly "after";
* either way the data is byte for byte "before" or "after" (never half, never
  twice: an INCR, an AutoPK create or an EXEC applied twice gives neither);
  a non-transactional pipeline may also stop between two of its writes, each
  of which stays whole;
* ``consistency_check`` finds nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from django_limpyd.consistency import consistency_check
from django_limpyd.test.server import PrivateRedisServer
from tests.reliability.helpers import Snapshot, diff, dumps, restore, snapshot, summary
from tests.reliability.models import DATABASE, Fault, Initialed
from tests.tools.proxy import DROP_BEFORE, DROP_REPLY, HANDSHAKE_COMMANDS, FaultProxy

CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

Context = dict[str, str]


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedisServer]:
    server = PrivateRedisServer(tmp_path_factory.mktemp("cut-redis"), tcp=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def direct(tcp_server: PrivateRedisServer) -> Iterator[redis.Redis]:
    """An undecoded client of the server, bypassing the proxy; the server starts empty."""
    client = redis.Redis(port=tcp_server.port)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def proxy(tcp_server: PrivateRedisServer, direct: redis.Redis) -> Iterator[FaultProxy]:
    with FaultProxy(tcp_server.port, timeout=5) as fault_proxy:
        DATABASE.connect(host="127.0.0.1", port=fault_proxy.port, socket_timeout=5)
        try:
            yield fault_proxy
        finally:
            DATABASE.close()


#: not counted: the connection's own traffic (a health-check PING comes and goes with timing)
SKIPPED = HANDSHAKE_COMMANDS | {"PING"}


def sent(proxy: FaultProxy) -> list[str]:
    return [name for name in proxy.commands if name not in SKIPPED]


# -- scenarios ------------------------------------------------------------------------


def setup_data() -> Context:
    a = Fault(name="alpha", color="red", score=1, code="A", hits=0, tags=["x", "y"])
    b = Fault(name="beta", color="blue", score=2, code="B", hits=5, tags=["y"])
    i = Initialed(name="apple", word="avocado")
    return {"a": a.pk.get(), "b": b.pk.get(), "i": i.pk.get()}


def create_gamma(ctx: Context) -> Any:
    return Fault(name="gamma", color="red", score=3, code="C", hits=1, tags=["x", "z"])


def update_indexed(ctx: Context) -> Any:
    return Fault(ctx["a"]).hmset(name="alpha2", color="green", score=7)


def update_unique_string(ctx: Context) -> Any:
    return Fault.lazy_connect(ctx["a"]).code.set("A2")


def incr_counter(ctx: Context) -> Any:
    return Fault.lazy_connect(ctx["a"]).hits.incr()


def hincrby_score(ctx: Context) -> Any:
    return Fault.lazy_connect(ctx["a"]).score.hincrby(3)


def sadd_tags(ctx: Context) -> Any:
    return Fault.lazy_connect(ctx["a"]).tags.sadd("z", "w")


def update_transformed(ctx: Context) -> Any:
    # the old value's transform is unknown to the script: NEED, then the write
    return Initialed.lazy_connect(ctx["i"]).name.set("banana")


def delete_b(ctx: Context) -> Any:
    return Fault(ctx["b"]).delete()


def delete_transformed(ctx: Context) -> Any:
    return Initialed.lazy_connect(ctx["i"]).delete()


BATCH_STEPS: list[Callable[[Context], Any]] = [
    create_gamma,
    lambda ctx: Fault.lazy_connect(ctx["a"]).hmset(color="green", score=4),
    lambda ctx: Fault.lazy_connect(ctx["a"]).hits.incr(),
    lambda ctx: Fault.lazy_connect(ctx["b"]).delete(),
]


def batch(transaction: bool, steps: list[Callable[[Context], Any]]) -> Callable[[Context], Any]:
    def run(ctx: Context) -> Any:
        with DATABASE.pipeline(transaction=transaction) as pipeline:
            for step in steps:
                step(ctx)
            return pipeline.execute()

    return run


def bulk_create(ctx: Context) -> Any:
    return Fault.bulk_create(
        [
            {"name": f"bulk-{i}", "color": "red", "code": f"BULK{i}", "hits": i, "tags": ["x"]}
            for i in range(3)
        ]
    )


def watched_transaction(ctx: Context) -> Any:
    a = Fault.lazy_connect(ctx["a"])

    def func(pipeline: Any) -> None:
        hits = int(a.hits.get())  # read while watching
        pipeline.multi()
        a.hits.incrby(hits + 10)
        Fault.lazy_connect(ctx["b"]).color.hset("purple")
        create_gamma(ctx)

    return DATABASE.transaction(func, a.hits)


def unwatched_transaction(ctx: Context) -> Any:
    def func(pipeline: Any) -> None:
        Fault.lazy_connect(ctx["a"]).hits.incrby(10)
        Fault.lazy_connect(ctx["b"]).tags.srem("y")
        create_gamma(ctx)

    return DATABASE.transaction(func)


@dataclass
class Scenario:
    name: str
    operation: Callable[[Context], Any]
    #: SCRIPT FLUSH before each run: the scripts are loaded again on the way
    flush_scripts: bool = False
    #: a non-transactional pipeline: each of these steps is atomic, the batch is not
    steps: list[Callable[[Context], Any]] = field(default_factory=list)
    xfail: str | None = None


SCENARIOS = [
    Scenario("create (unique + indexes)", create_gamma),
    Scenario("create, scripts not loaded", create_gamma, flush_scripts=True),
    Scenario("indexed update (unique + eq + range)", update_indexed),
    Scenario("unique StringField update", update_unique_string),
    Scenario("INCR of a range-indexed counter", incr_counter),
    Scenario("HINCRBY of a range-indexed hash field", hincrby_score),
    Scenario("SADD to an indexed set", sadd_tags),
    Scenario("update through a Python transform (NEED)", update_transformed),
    Scenario("delete", delete_b),
    Scenario("delete through a Python transform (NEED)", delete_transformed),
    Scenario("pipeline batch (MULTI/EXEC)", batch(True, BATCH_STEPS)),
    Scenario(
        "pipeline batch (MULTI/EXEC), scripts not loaded",
        batch(True, BATCH_STEPS),
        flush_scripts=True,
    ),
    Scenario(
        "pipeline batch (MULTI/EXEC) with a transform (NEED)",
        batch(True, [BATCH_STEPS[2], update_transformed]),
    ),
    Scenario("pipeline batch (transaction=False)", batch(False, BATCH_STEPS), steps=BATCH_STEPS),
    Scenario(
        "pipeline batch (transaction=False), scripts not loaded",
        batch(False, BATCH_STEPS),
        flush_scripts=True,
        steps=BATCH_STEPS,
    ),
    Scenario("bulk_create of 3", bulk_create),
    Scenario("transaction() with WATCH", watched_transaction),
    Scenario("transaction() without WATCH", unwatched_transaction),
]


# -- the test -------------------------------------------------------------------------


def check_consistency() -> None:
    assert consistency_check(Fault) == []
    assert consistency_check(Initialed) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(s, marks=[pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else [])
        for s in SCENARIOS
    ],
    ids=[s.name for s in SCENARIOS],
)
def test_connection_cut_at_every_command(scenario: Scenario, proxy, direct):
    started = time.perf_counter()
    ctx = setup_data()
    initial = dumps(direct)  # what each run starts from
    before: Snapshot = snapshot(direct)

    def prepare() -> None:
        restore(direct, initial)
        if scenario.flush_scripts:
            direct.script_flush()
        else:
            DATABASE.load_scripts()
        proxy.reset()

    # a clean run: its commands, and the state after
    prepare()
    scenario.operation(ctx)
    commands = sent(proxy)
    after = snapshot(direct)
    check_consistency()
    assert after != before
    allowed = {"before": before, "after": after}
    if scenario.steps:  # each write whole, the batch cut anywhere between them
        prepare()
        for position, step in enumerate(scenario.steps[:-1], start=1):
            step(ctx)
            allowed[f"after write {position}"] = snapshot(direct)

    outcomes: Counter[str] = Counter()
    failures = []
    for mode in (DROP_BEFORE, DROP_REPLY):
        for k in range(1, len(commands) + 1):
            where = f"{mode} at K={k} ({commands[k - 1]})"
            prepare()
            proxy.arm(k, mode, skip=SKIPPED)
            try:
                scenario.operation(ctx)
            except CONNECTION_ERRORS:
                raised = True
            except Exception as exc:  # anything else is a failure of its own
                failures.append(f"{where}: raised {type(exc).__name__}: {exc}")
                continue
            else:
                raised = False
            assert proxy.fired.is_set(), (
                f"{where}: the fault was not applied "
                f"(sent: {sent(proxy)}, clean run: {commands}, raised: {raised})"
            )
            state = snapshot(direct)
            names = [name for name, value in allowed.items() if value == state]
            if not names:
                failures.append(
                    f"{where}: {'raised' if raised else 'returned'}, data neither before nor "
                    f"after: vs before {diff(before, state)}; vs after {diff(after, state)}"
                )
            elif not raised and names != ["after"]:
                failures.append(f"{where}: returned but data is {names[0]!r}")
            else:
                outcomes[f"{'raised' if raised else 'returned'}->{names[0]}"] += 1
            check_consistency()
    assert not failures, "\n".join(failures)
    summary(
        f"connection cut: {scenario.name}",
        started,
        commands="/".join(commands),
        runs=2 * len(commands),
        **{key.replace(" ", "_"): value for key, value in sorted(outcomes.items())},
    )
