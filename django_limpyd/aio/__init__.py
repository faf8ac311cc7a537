"""The async API: the same models from async views, consumers and tasks.

``await Model.acreate(...)``, ``await obj.name.aget()``, ``await Model.objects.aget(...)``,
``async for obj in Model.objects.filter(...)``: see :doc:`/orm/async`. The sync code
plans every operation (:mod:`django_limpyd.aio.capture`); a ``redis.asyncio`` client
per database and event loop sends it (:mod:`django_limpyd.aio.connections`).
"""

from django_limpyd.aio.client import AsyncLimpydRedis
from django_limpyd.aio.connections import aclose_clients, get_client

__all__ = ["AsyncLimpydRedis", "aclose_clients", "get_client"]
