"""A Sentinel failover (planned with ``SENTINEL FAILOVER``; with LIMPYD_FAILOVER_FAULTS=1
also the master SIGKILLed, and SIGSTOPped then resumed) under two writer processes,
with and without durable writes: 1 master + 1 replica + 3 sentinels, all
``redis-server`` processes on loopback.

Between the promotion of the replica and the demotion of the old master, writes may
still land on the old master and be acknowledged, then vanish when it resynchronises
from the new one; the new master may then give their AutoPK values again. With
durable writes (``WAIT`` for the replica in the same round trip), such a write is
never acknowledged: zero acknowledged writes lost, zero pks given twice.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from django_limpyd.connections import databases
from django_limpyd.consistency import consistency_check
from django_limpyd.servers import wait_for_server
from django_limpyd.test.server import free_port
from tests.failover import workers
from tests.failover.models import Order
from tests.reliability.helpers import acknowledged_outcome, summary
from tests.replicas.helpers import primary_and_replica

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SERVICE = "mymaster"
WRITERS = 2
#: writers run this long; the failover is asked after a third of it
RUN_SECONDS = 6.0
#: spawned processes set Django up first
STARTUP_SECONDS = 4.0


@contextmanager
def sentinels(primary: Any, directory: Path, count: int = 3) -> Iterator[list[int]]:
    """``count`` Sentinels watching ``primary`` (quorum 2, down after 1 s); their ports."""
    processes, ports = [], []
    try:
        for number in range(count):
            port = free_port()
            where = directory / f"s{number}"
            where.mkdir(parents=True, exist_ok=True)
            (where / "sentinel.conf").write_text(
                "\n".join(
                    [
                        f"port {port}",
                        "bind 127.0.0.1",
                        f'dir "{where}"',
                        f'logfile "{where / "sentinel.log"}"',
                        f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2",
                        f"sentinel down-after-milliseconds {SERVICE} 1000",
                        f"sentinel failover-timeout {SERVICE} 10000",
                        "",
                    ]
                )
            )
            processes.append(
                subprocess.Popen(
                    [primary.binary, str(where / "sentinel.conf"), "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            ports.append(port)
        for port, process in zip(ports, processes, strict=True):
            wait_for_server(port=port, timeout=15, alive=lambda p=process: p.poll() is None)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def master_port(sentinel_port: int) -> int:
    with redis.Redis(port=sentinel_port, decode_responses=True) as client:
        return int(client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def _role(server: Any) -> str:
    with server.client() as client:
        return client.info("replication")["role"]


def entry(ports: list[int], durable: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": [("127.0.0.1", port) for port in ports],
        "SOCKET_TIMEOUT": 2,
    }
    if durable:
        options["DURABILITY"] = {"REPLICAS": 1, "TIMEOUT": 0.5}
    return {"LOCATION": f"redis://{SERVICE}/0", "OPTIONS": options}


#: the faults besides the planned failover run with LIMPYD_FAILOVER_FAULTS=1 (a minute)
ALL_FAULTS = pytest.mark.skipif(
    not os.environ.get("LIMPYD_FAILOVER_FAULTS"), reason="set LIMPYD_FAILOVER_FAULTS=1"
)


@pytest.mark.parametrize("durable", [False, True], ids=["plain", "durable"])
@pytest.mark.parametrize(
    "fault",
    [
        "planned",
        pytest.param("sigkill", marks=ALL_FAULTS),
        pytest.param("sigstop", marks=ALL_FAULTS),
    ],
)
def test_a_failover_under_writers(tmp_path_factory, fault, durable):
    directory = tmp_path_factory.mktemp("failover")
    started = time.perf_counter()
    with ExitStack() as stack:
        primary, replica = stack.enter_context(primary_and_replica(directory, tcp_replica=True))
        ports = stack.enter_context(sentinels(primary, directory))
        wait_until(lambda: master_port(ports[0]) == primary.port, 15, "sentinels up")
        config = entry(ports, durable)
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        deadline = time.time() + STARTUP_SECONDS + RUN_SECONDS
        processes = [
            spawn.Process(target=workers.write_until, args=(config, seed, deadline, results))
            for seed in range(WRITERS)
        ]
        for process in processes:
            process.start()
        try:
            time.sleep(STARTUP_SECONDS + RUN_SECONDS / 3)
            asked = time.time()
            if fault == "planned":
                with redis.Redis(port=ports[0], decode_responses=True) as client:
                    client.execute_command("SENTINEL", "FAILOVER", SERVICE)
            elif fault == "sigkill":
                primary.kill()
            else:
                primary.pause()
            wait_until(lambda: master_port(ports[0]) == replica.port, 30, "promotion")
            promoted = time.time() - asked
            if fault == "sigstop":
                primary.resume()
            reports = []
            for _ in processes:
                _seed, ok, payload = results.get(timeout=RUN_SECONDS + 60)
                assert ok, payload
                reports.append(payload)
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        if fault != "sigkill":  # the old master rejoins as a replica of the new one
            wait_until(lambda: _role(primary) == "slave", 30, "demotion")
        entries = {**settings.LIMPYD_DATABASES, "failover": config}
        with override_settings(LIMPYD_DATABASES=entries):
            database = databases["failover"]
            try:
                stored = {Order.lazy_connect(pk).token.hget(): pk for pk in Order.collection()}
                problems = consistency_check(Order)
            finally:
                database.close()
    outcome = acknowledged_outcome(reports, stored)
    summary(
        f"sentinel {fault} failover ({'durable' if durable else 'plain'})",
        started,
        **outcome,
        promotion_seconds=round(promoted, 2),
        consistency_check=problems,
    )
    assert outcome["acknowledged"]
    if durable:
        assert outcome["lost"] == 0 and outcome["reused_pks"] == 0
        assert problems == []
