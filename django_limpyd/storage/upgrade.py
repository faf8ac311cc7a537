"""Upgrading data written by an earlier layout.

Before collections read pages by rank, a model's pks were a set (``P:pks``);
they are now a sorted set (scored by the pk's number in an AutoPK model, else
0). :func:`upgrade_pks` converts one model's set in place, atomically (one
script: the set read, deleted and written back as a sorted set), and does
nothing to a sorted set. ``manage.py limpyd_index rebuild`` runs it first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["upgrade_pks"]

#: KEYS[1] the pks; ARGV[1] "1" for an AutoPK model. Returns how many pks were converted.
_UPGRADE_PKS = """
if redis.call('TYPE', KEYS[1]).ok ~= 'set' then return 0 end
local pks = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
local scored = {}
for _, pk in ipairs(pks) do
    scored[#scored + 1] = ARGV[1] == '1' and tonumber(pk) or 0
    scored[#scored + 1] = pk
    if #scored >= 2000 then
        redis.call('ZADD', KEYS[1], unpack(scored))
        scored = {}
    end
end
if #scored > 0 then redis.call('ZADD', KEYS[1], unpack(scored)) end
return #pks
"""


def upgrade_pks(model: type, connection: Any = None) -> int:
    """Convert the pks of ``model`` from a set (the earlier layout) to a sorted set, in
    one atomic script; the number of pks converted (0: already a sorted set, or none)."""
    meta = model._meta
    connection = connection or meta.database.connection
    auto = "1" if meta.pk_field.auto else "0"
    return int(connection.eval(_UPGRADE_PKS, 1, meta.keys.pks, auto))
