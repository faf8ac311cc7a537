"""Signals sent by django_limpyd, like Django's model signals.

The sender is the model class; ``using`` is the database alias (``None`` for a
database built by hand). Nothing is built or sent when no receiver listens.

* ``pre_save`` / ``post_save``: around a create (``created=True``,
  ``update_fields=None``) and around every field write (``created`` is True only
  when that write created the instance; ``update_fields`` names the fields).
* ``pre_delete`` / ``post_delete``: around ``instance.delete()``.
* ``m2m_changed``: around writes of many-to-many related fields (``action`` is
  ``"pre_change"`` / ``"post_change"``, ``field`` names the field).
"""

from django.dispatch import Signal

__all__ = ["m2m_changed", "post_delete", "post_save", "pre_delete", "pre_save"]

pre_save = Signal(use_caching=True)
post_save = Signal(use_caching=True)
pre_delete = Signal(use_caching=True)
post_delete = Signal(use_caching=True)
m2m_changed = Signal(use_caching=True)
