"""Redis models of the test app ``events`` (autodiscovered): a sharded model."""

from django_limpyd import fields
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel


class Ticket(RedisModel):
    """Spread over 4 shards, with a unique field reserved across them."""

    shards = 4
    code = fields.InstanceHashField(unique=True)
    kind = fields.InstanceHashField(indexable=True)
    price = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
