"""The model of the failover tests, on the ``failover`` alias that the tests (and
their writer processes) define."""

from __future__ import annotations

from django_limpyd import fields
from django_limpyd.model import RedisModel


class Order(RedisModel):
    """An AutoPK model with a unique token (who acknowledged what) and an indexed value."""

    database = "failover"
    namespace = "failover"
    token = fields.InstanceHashField(indexable=True, unique=True)
    value = fields.InstanceHashField(indexable=True)
