"""Collections: ``django_limpyd.collection``."""

from django_limpyd.collection.manager import CollectionManager
from django_limpyd.collection.results import CollectionResults

__all__ = ["CollectionManager", "CollectionResults"]
