"""Acknowledged writes through a Redis Cluster failover, with and without durable writes:
3 masters + 3 replicas on loopback, two creating processes, the master of the model's
slot SIGKILLed (with LIMPYD_FAILOVER_FAULTS=1 also: a planned ``CLUSTER FAILOVER``,
and the master SIGSTOPped until its replica took over).

With durable writes (``WAIT`` for the replica, in the same round trip, on the node of
the slot), no acknowledged create is lost and no pk is given twice.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.isolation import short_tempdir
from tests.cluster import workers
from tests.cluster.models import DATABASE, Account
from tests.reliability.helpers import acknowledged_outcome, summary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WRITERS = 2
RUN_SECONDS = 6.0
STARTUP_SECONDS = 4.0
ALL_FAULTS = pytest.mark.skipif(
    not os.environ.get("LIMPYD_FAILOVER_FAULTS"), reason="set LIMPYD_FAILOVER_FAULTS=1"
)


def disturb(cluster: PrivateRedisCluster, slot: int, fault: str) -> Any:
    """Cause ``fault`` on the master of ``slot``; return it once its replica serves."""
    master = cluster.master_of_slot(slot)
    if fault == "planned":
        replica = next(
            node
            for node in cluster.nodes
            if node is not master and _replica_of(cluster, node) == cluster.node_id(master)
        )
        with cluster.node_client(replica) as client:
            client.execute_command("CLUSTER", "FAILOVER")
    elif fault == "sigkill":
        master.kill()
    else:
        master.pause()
    cluster.wait_for_failover(slot)
    if fault == "sigstop":
        master.resume()
    elif fault == "sigkill":
        master.start()  # it comes back as a replica of the new master
    cluster.wait_until_ok()
    return master


def _replica_of(cluster: PrivateRedisCluster, node: Any) -> str | None:
    with cluster.node_client(node) as client:
        role = client.execute_command("ROLE")
    if role[0] != "slave":
        return None
    with cluster.node_client(node) as client:
        for line in client.execute_command("CLUSTER", "NODES").splitlines():
            parts = line.split()
            if "myself" in parts[2]:
                return parts[3]
    return None


@pytest.mark.parametrize(
    "durable", [True, pytest.param(False, marks=ALL_FAULTS)], ids=["durable", "plain"]
)
@pytest.mark.parametrize(
    "fault",
    [
        "sigkill",
        pytest.param("planned", marks=ALL_FAULTS),
        pytest.param("sigstop", marks=ALL_FAULTS),
    ],
)
def test_acknowledged_creates_through_a_cluster_failover(fault, durable):
    started = time.perf_counter()
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=1) as cluster:
        nodes = cluster.connection_kwargs()["cluster_nodes"]
        DATABASE.connect(cluster_nodes=nodes)
        slot = DATABASE.connection.keyslot(Account._meta.keys.pks)
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        deadline = time.time() + STARTUP_SECONDS + RUN_SECONDS
        processes = [
            spawn.Process(
                target=workers.create_until, args=(nodes, seed, deadline, results, durable)
            )
            for seed in range(WRITERS)
        ]
        for process in processes:
            process.start()
        try:
            time.sleep(STARTUP_SECONDS + RUN_SECONDS / 3)
            asked = time.time()
            disturb(cluster, slot, fault)
            recovered = time.time() - asked
            reports = []
            for _ in processes:
                _side, _seed, ok, payload = results.get(timeout=RUN_SECONDS + 60)
                assert ok, payload
                reports.append(payload)
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        DATABASE.close()
        stored = {Account.lazy_connect(pk).name.hget(): pk for pk in Account.collection()}
        problems = consistency_check(Account)
        DATABASE.close()
    outcome = acknowledged_outcome(reports, stored)
    summary(
        f"cluster {fault} failover ({'durable' if durable else 'plain'})",
        started,
        **outcome,
        recovery_seconds=round(recovered, 2),
        consistency_check=problems,
    )
    assert outcome["acknowledged"]
    if durable:
        assert outcome["lost"] == 0 and outcome["reused_pks"] == 0 and problems == []
