"""``PipelineDatabase``, as in limpyd's contrib.

Every :class:`~django_limpyd.database.RedisDatabase` of django_limpyd already
has ``pipeline()`` and ``transaction()`` (see :mod:`django_limpyd.pipelines`);
this subclass exists so that limpyd code ported by search and replace keeps
working unchanged.
"""

from django_limpyd.database import RedisDatabase

__all__ = ["PipelineDatabase"]


class PipelineDatabase(RedisDatabase):
    """A :class:`RedisDatabase` (pipelines and transactions included)."""
