"""Sharded models: one model's instances spread over several hash tags (``shards = n``),
so over every master of a Redis Cluster. See :doc:`/scaling` ("Sharded models").

* :mod:`~django_limpyd.sharding.layout`: the shards of a model (their hash tags, spread
  evenly over the cluster's slots) and the shard of a pk;
* :mod:`~django_limpyd.sharding.collection`: collections that scatter to every shard
  and gather.
"""
