"""Following a Sentinel failover at once: a thread per Sentinel-managed primary client
that listens to Sentinel's ``+switch-master`` events; when its service gets a new
master, the client drops its idle connections before its next command (in the calling
thread: never under a command in flight), so that command connects to the new master.

redis-py asks Sentinel for the master only when a connection is made; an established
connection keeps writing to the old master after a planned failover (``SENTINEL
FAILOVER``) until that server is demoted, which Sentinel may do seconds later, and
those writes are then lost. With the watcher, the next command connects to the new
master as soon as Sentinel announces it. (Writes in flight at that moment may still
land on the old master: durable writes, docs/reliability.rst, close that window.)
"""

from __future__ import annotations

import threading
from typing import Any

import redis

__all__ = ["MasterSwitchWatcher", "watch_pool"]


class MasterSwitchWatcher(threading.Thread):
    """Listens to ``+switch-master`` on the Sentinels of ``client``'s pool (one at a time,
    the next one when it fails) and marks the client when its service switches."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        super().__init__(name=f"limpyd-sentinel-{pool.service_name}", daemon=True)
        self.client = client
        self.service = pool.service_name
        self.sentinels = list(pool.sentinel_manager.sentinels)
        self.stopping = threading.Event()
        #: how many switches were seen (for tests)
        self.switches = 0

    def run(self) -> None:
        turn = 0
        while not self.stopping.is_set() and self.sentinels:
            sentinel = self.sentinels[turn % len(self.sentinels)]
            turn += 1
            try:
                self._listen(sentinel)
            except (redis.RedisError, OSError, ValueError):
                self.stopping.wait(0.5)

    def _listen(self, sentinel: Any) -> None:
        kwargs = sentinel.connection_pool.connection_kwargs
        client = redis.Redis(
            host=kwargs.get("host", "localhost"),
            port=kwargs.get("port", 26379),
            password=kwargs.get("password"),
            username=kwargs.get("username"),
            socket_timeout=None,
            socket_connect_timeout=2,
            decode_responses=True,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe("+switch-master")
            while not self.stopping.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message and str(message.get("data", "")).split(" ", 1)[0] == self.service:
                    self.switches += 1
                    self.client.limpyd_master_switched = True
        finally:
            pubsub.close()
            client.close()

    def stop(self) -> None:
        """Stop listening (the thread ends within about half a second)."""
        self.stopping.set()


def watch_pool(client: Any) -> MasterSwitchWatcher | None:
    """Start a watcher for ``client``'s pool if it is a Sentinel pool of a master."""
    pool = client.connection_pool
    if not (hasattr(pool, "sentinel_manager") and getattr(pool, "is_master", False)):
        return None
    watcher = MasterSwitchWatcher(client)
    watcher.start()
    return watcher
