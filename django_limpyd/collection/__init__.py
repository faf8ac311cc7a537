"""Collections: ``django_limpyd.collection``."""

from django_limpyd.collection.manager import CollectionManager

__all__ = ["CollectionManager"]
