"""A private Redis Cluster for test sessions: ``redis-server`` processes on loopback.

:class:`PrivateRedisCluster` starts ``masters`` nodes (and ``replicas`` replicas of
each), each a :class:`~django_limpyd.test.server.PrivateRedisServer` with
``cluster-enabled yes`` in its own directory, spreads the 16384 slots evenly over
the masters (``CLUSTER ADDSLOTSRANGE``), joins them (``CLUSTER MEET``), attaches
the replicas (``CLUSTER REPLICATE``) and waits until every node says
``cluster_state:ok``. Everything is done with redis-py: no ``redis-cli`` needed.
Nodes are stopped by PID; a test can SIGKILL a master and wait for its replica to
take over (:meth:`kill_master_of`, :meth:`wait_until_ok`).
"""

from __future__ import annotations

import random
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import redis

from django_limpyd.client_cluster import WholeKeyspace
from django_limpyd.test.server import PrivateRedisServer

__all__ = ["SLOTS", "PrivateRedisCluster"]

#: Hash slots of a Redis Cluster.
SLOTS = 16384


#: A node's cluster bus listens on its port + this.
BUS_PORT_OFFSET = 10000


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


#: the ports' own source of randomness: test runners reseed ``random`` (pytest-randomly
#: gives every xdist worker the same seed), which made two workers pick the same ports
_PORTS = random.SystemRandom()


def cluster_port(taken: set[int]) -> int:
    """A loopback port free a moment ago whose cluster bus port (+10000) is free too."""
    for _attempt in range(1000):
        port = _PORTS.randint(20000, 55000)
        if port not in taken and _free(port) and _free(port + BUS_PORT_OFFSET):
            taken.add(port)
            return port
    raise RuntimeError("no free pair of loopback ports for a cluster node")


class WholeClusterClient(WholeKeyspace, redis.RedisCluster):
    """A plain ``redis.RedisCluster`` whose ``keys()`` and ``dbsize()`` cover every
    primary, for tests that look at the whole keyspace."""


class PrivateRedisCluster:
    """A Redis Cluster of child ``redis-server`` processes owned by the caller."""

    def __init__(
        self,
        directory: str | Path,
        *,
        masters: int = 3,
        replicas: int = 0,
        node_timeout_ms: int = 1000,
        binary: str | None = None,
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one master and replicas >= 0")
        self.directory = Path(directory)
        self.masters_count = masters
        self.replicas_count = replicas
        extra = {
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": node_timeout_ms,
            "cluster-require-full-coverage": "yes",
            "appendonly": "no",
            "repl-diskless-sync": "yes",
            "repl-diskless-sync-delay": 0,
        }
        #: every node, masters first (node ``i`` of the masters serves the i-th slot range)
        self.nodes = [
            PrivateRedisServer(self.directory / f"node{i}", tcp=True, binary=binary, extra=extra)
            for i in range(masters * (1 + replicas))
        ]
        taken: set[int] = set()
        for node in self.nodes:
            node.port = cluster_port(taken)

    # -- addresses ------------------------------------------------------------------

    @property
    def ports(self) -> list[int]:
        """The port of every node (masters first, as started)."""
        return [node.port for node in self.nodes]  # type: ignore[misc]

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL naming every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports) + "/"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of a hand-built ``RedisDatabase`` on this cluster."""
        return {"cluster_nodes": [("127.0.0.1", port) for port in self.ports]}

    def node_client(self, node: PrivateRedisServer, **kwargs: Any) -> redis.Redis:
        """A plain decoded client of one node."""
        return redis.Redis(host="127.0.0.1", port=node.port, decode_responses=True, **kwargs)

    def client(self, **kwargs: Any) -> redis.RedisCluster:
        """A plain decoded ``redis.RedisCluster`` of the whole cluster."""
        nodes = [
            redis.cluster.ClusterNode("127.0.0.1", node.port)
            for node in self.nodes
            if node.process is not None and node.process.poll() is None
        ]
        return WholeClusterClient(startup_nodes=nodes, decode_responses=True, **kwargs)

    # -- life -----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> PrivateRedisCluster:
        """Start every node, build the cluster, wait until it serves every slot."""
        try:
            for node in self.nodes:
                node.start()
            self._create()
            self.wait_until_ok(timeout)
            self._wait(self._replicas_synced, timeout, "replicas in sync")
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        masters = self.nodes[: self.masters_count]
        per_master = SLOTS // self.masters_count
        first = masters[0]
        for position, node in enumerate(masters):
            start = position * per_master
            end = SLOTS - 1 if position == len(masters) - 1 else start + per_master - 1
            with self.node_client(node) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", start, end)
        for node in self.nodes[1:]:
            with self.node_client(node) as client:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", first.port)
        if self.replicas_count:
            self._wait(lambda: self._known_nodes() == len(self.nodes), 15.0, "nodes to meet")
            ids = [self.node_id(master) for master in masters]
            for index, node in enumerate(self.nodes[self.masters_count :]):
                master_id = ids[index % self.masters_count]
                with self.node_client(node) as client:
                    self._wait(
                        lambda c=client, m=master_id: self._replicate(c, m), 15.0, "replicas"
                    )

    @staticmethod
    def _replicate(client: redis.Redis, master_id: str) -> bool:
        try:
            client.execute_command("CLUSTER", "REPLICATE", master_id)
            return True
        except redis.ResponseError:  # the master is not known to this node yet
            return False

    def cluster_info(self, node: PrivateRedisServer) -> dict[str, str]:
        """``CLUSTER INFO`` of one node, as a dict."""
        with self.node_client(node, socket_timeout=2) as client:
            text = client.execute_command("CLUSTER", "INFO")
        if isinstance(text, dict):
            return {str(k): str(v) for k, v in text.items()}
        pairs = (line.partition(":") for line in str(text).splitlines() if ":" in line)
        return {name: value.strip() for name, _sep, value in pairs}

    def _replicas_synced(self) -> bool:
        for node in self.nodes[self.masters_count :]:
            with self.node_client(node) as client:
                if client.info("replication").get("master_link_status") != "up":
                    return False
        return True

    def _known_nodes(self) -> int:
        return int(self.cluster_info(self.nodes[0]).get("cluster_known_nodes", 0))

    def node_id(self, node: PrivateRedisServer) -> str:
        """The cluster node id of ``node``."""
        with self.node_client(node) as client:
            return str(client.execute_command("CLUSTER", "MYID"))

    def _live(self, node: PrivateRedisServer) -> bool:
        """True if ``node`` runs and answers (a SIGSTOPped node does not)."""
        if node.process is None or node.process.poll() is not None:
            return False
        try:
            with self.node_client(node, socket_timeout=0.5, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _states_ok(self) -> bool:
        for node in self.nodes:
            if not self._live(node):
                continue
            try:
                info = self.cluster_info(node)
            except redis.RedisError:
                return False
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_known_nodes", 0)) < len(self.nodes):
                return False
        return True

    def wait_until_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node says ``cluster_state:ok`` and knows every node."""
        self._wait(self._states_ok, timeout, "cluster_state:ok")

    @staticmethod
    def _wait(condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise TimeoutError(f"the private Redis Cluster did not reach {what} within {timeout} s")

    def stop(self) -> None:
        """Stop every node for good (by PID) and remove their directories."""
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivateRedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- topology -------------------------------------------------------------------

    def master_of_slot(self, slot: int) -> PrivateRedisServer:
        """The live node that serves ``slot`` as a master now."""
        for node in self.nodes:
            if not self._live(node):
                continue
            with self.node_client(node) as client:
                role = client.execute_command("ROLE")[0]
                if role != "master":
                    continue
                for start, end in self._slot_ranges(client):
                    if start <= slot <= end:
                        return node
        raise LookupError(f"no live master serves slot {slot}")

    @staticmethod
    def _slot_ranges(client: redis.Redis) -> list[tuple[int, int]]:
        myid = client.execute_command("CLUSTER", "MYID")
        ranges: list[tuple[int, int]] = []
        for line in client.execute_command("CLUSTER", "NODES").splitlines():
            parts = line.split()
            if parts and parts[0] == myid:
                for part in parts[8:]:
                    if part.startswith("["):
                        continue  # a slot being migrated
                    start, _, end = part.partition("-")
                    ranges.append((int(start), int(end or start)))
        return ranges

    def masters(self) -> list[PrivateRedisServer]:
        """The live nodes that are masters now."""
        found = []
        for node in self.nodes:
            if not self._live(node):
                continue
            with self.node_client(node) as client:
                if client.execute_command("ROLE")[0] == "master":
                    found.append(node)
        return found

    def kill_master_of(self, slot: int) -> PrivateRedisServer:
        """SIGKILL the master serving ``slot``; return it (its replica takes over: see
        :meth:`wait_for_failover`)."""
        node = self.master_of_slot(slot)
        node.kill()
        return node

    def wait_for_failover(self, slot: int, timeout: float = 30.0) -> PrivateRedisServer:
        """Wait until a live master serves ``slot`` and the cluster is ok again."""

        def served() -> bool:
            try:
                self.master_of_slot(slot)
            except (LookupError, redis.RedisError):
                return False
            return self._states_ok()

        self._wait(served, timeout, f"a live master for slot {slot}")
        return self.master_of_slot(slot)

    def move_slot(self, slot: int, to: PrivateRedisServer, batch: int = 100) -> None:
        """Move ``slot`` and its keys to the master ``to``, live, as ``redis-cli --cluster
        reshard`` does: IMPORTING/MIGRATING, ``MIGRATE`` of its keys in batches (clients
        meanwhile get ``ASK``/``TRYAGAIN`` redirections), then ``SETSLOT NODE`` on every
        master."""
        source = self.master_of_slot(slot)
        if source is to:
            return
        source_id, target_id = self.node_id(source), self.node_id(to)
        with self.node_client(to) as target_client, self.node_client(source) as source_client:
            target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while True:
                keys = source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch)
                if not keys:
                    break
                source_client.execute_command(
                    "MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", *keys
                )
            for node in self.masters():
                with self.node_client(node) as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
