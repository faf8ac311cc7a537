"""A master and its replica, real redis-server processes, and what reaches them.

:func:`replicated_servers` starts a master (AOF, ``appendfsync always``, no
RDB saves, on a free loopback port) and a replica of it (unix socket, made a
replica by ``REPLICAOF 127.0.0.1 <port>``), waits until the replica is in sync
and a command sent by the master has reached it (a ``PUBLISH``: no data, not
in the AOF), and stops both by PID on the way out, even after a failure. The
master is made quiet: it sends its replicas nothing on its own (no periodic
``PING``, no automatic AOF rewrite), so ``master_repl_offset`` and the AOF
move only when a client command is propagated. (The first sync goes through
an RDB file in the master's directory, written once by the sync itself.)

:func:`offsets`, :func:`wait_in_sync` read the replication offsets;
:func:`aof_sizes` and :func:`aof_commands_since` read the AOF files (one
``appendonly.aof`` on Redis 6, ``appendonlydir/*.incr.aof`` on Redis 7) and
parse the commands appended since a point.

Example::

    with replicated_servers(tmp_path) as (master, replica):
        sizes = aof_sizes(master)
        master.client().set("k", "v")
        wait_in_sync(master, replica)
        assert aof_commands_since(master, sizes) == [[b"SET", b"k", b"v"]]
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from django_limpyd.test.server import PrivateRedisServer
from tests.tools.proxy import parse_request

__all__ = [
    "QUIET_MASTER",
    "aof_commands_since",
    "aof_sizes",
    "offsets",
    "redis_version",
    "replicated_servers",
    "start_replica",
    "wait_flowing",
    "wait_in_sync",
]

#: redis.conf directives of a master whose replication offset moves only with writes
QUIET_MASTER: dict[str, Any] = {
    "repl-ping-replica-period": 3600,  # the PING to replicas moves the offset (14 bytes)
    "repl-timeout": 3600,
    # the RDB of the first sync through a file: a diskless sync streams commands only
    # after the replica's first ACK (up to 1 s later)
    "repl-diskless-sync": "no",
    "auto-aof-rewrite-percentage": 0,  # the AOF files only grow
}

#: redis.conf directives of the replica (the quiet master sends it nothing for long)
QUIET_REPLICA: dict[str, Any] = {"repl-timeout": 3600}


def redis_version(server: PrivateRedisServer) -> tuple[int, ...]:
    """The server's version, e.g. ``(7, 0, 15)``."""
    client = server.client()
    try:
        return tuple(int(part) for part in client.info("server")["redis_version"].split("."))
    finally:
        client.close()


def offsets(master: PrivateRedisServer, replica: PrivateRedisServer) -> tuple[int, int | None]:
    """``(master_repl_offset of the master, slave_repl_offset of the replica)``; the
    replica's is ``None`` while its link to the master is not up."""
    master_client, replica_client = master.client(), replica.client()
    try:
        master_offset = int(master_client.info("replication")["master_repl_offset"])
        info = replica_client.info("replication")
    finally:
        master_client.close()
        replica_client.close()
    if info.get("master_link_status") != "up":
        return master_offset, None
    return master_offset, int(info["slave_repl_offset"])


def wait_in_sync(
    master: PrivateRedisServer, replica: PrivateRedisServer, timeout: float = 10.0
) -> int:
    """Wait until the replica's link is up and its offset is the master's; that offset.

    Polls ``INFO`` (``WAIT`` would itself move the offset: ``REPLCONF GETACK``).
    """
    deadline = time.monotonic() + timeout
    while True:
        master_offset, replica_offset = offsets(master, replica)
        if replica_offset == master_offset:
            return master_offset
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"replica not in sync after {timeout} s: master offset {master_offset}, "
                f"replica offset {replica_offset} (None: link down)"
            )
        time.sleep(0.01)


def wait_flowing(
    master: PrivateRedisServer, replica: PrivateRedisServer, timeout: float = 10.0
) -> int:
    """Wait until commands flow from the master to the replica: a ``PUBLISH`` (sent to
    replicas, not to the AOF, no data) reaches it. The offset then."""
    deadline = time.monotonic() + timeout
    wait_in_sync(master, replica, timeout)
    client = master.client()
    try:
        client.publish("__limpyd_replication_probe__", "1")
    finally:
        client.close()
    return wait_in_sync(master, replica, max(deadline - time.monotonic(), 0.1))


def start_replica(
    master: PrivateRedisServer, directory: str | os.PathLike[str], timeout: float = 10.0
) -> PrivateRedisServer:
    """Start a replica of ``master`` (which must listen on TCP) in ``directory`` and
    wait until it is in sync. The caller stops it (``replica.stop()``)."""
    if master.port is None:
        raise ValueError("the master must listen on a TCP port (PrivateRedisServer(tcp=True))")
    replica = PrivateRedisServer(directory, extra=QUIET_REPLICA).start()
    try:
        client = replica.client()
        try:
            client.replicaof("127.0.0.1", master.port)
        finally:
            client.close()
        wait_flowing(master, replica, timeout)
    except BaseException:
        replica.stop()
        raise
    return replica


@contextmanager
def replicated_servers(
    directory: str | os.PathLike[str], timeout: float = 10.0
) -> Iterator[tuple[PrivateRedisServer, PrivateRedisServer]]:
    """A quiet AOF master (``directory/master``) and its replica (``directory/replica``),
    in sync; both stopped by PID on exit."""
    directory = Path(directory)
    with ExitStack() as stack:
        master = PrivateRedisServer(
            directory / "master", tcp=True, persistence="aof", extra=QUIET_MASTER
        )
        stack.callback(master.stop)
        master.start()
        replica = start_replica(master, directory / "replica", timeout)
        stack.callback(replica.stop)
        yield master, replica


def _aof_files(server: PrivateRedisServer) -> list[Path]:
    return sorted(server.directory.rglob("*.aof"))


def aof_sizes(server: PrivateRedisServer) -> dict[Path, int]:
    """The size of each AOF file of ``server`` (with ``appendfsync always``, every
    acknowledged write is in them)."""
    return {path: path.stat().st_size for path in _aof_files(server)}


def aof_commands_since(server: PrivateRedisServer, sizes: dict[Path, int]) -> list[list[bytes]]:
    """The commands appended to ``server``'s AOF files since :func:`aof_sizes` gave
    ``sizes`` (each as its list of arguments)."""
    commands: list[list[bytes]] = []
    for path in _aof_files(server):
        data = path.read_bytes()[sizes.get(path, 0) :]
        position = 0
        while position < len(data):
            parsed = parse_request(data, position)
            if parsed is None:
                raise ValueError(f"{path}: a command cut at byte {sizes.get(path, 0) + position}")
            position, args = parsed
            if args:
                commands.append(args)
    return commands
