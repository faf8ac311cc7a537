"""Related fields: links between models (limpyd's ``contrib.related``).

``RelatedModel`` is the base of models using related fields; the fields are
foreign keys (``FKStringField``, ``FKInstanceHashField``) and many-to-many
fields (``M2MSetField``, ``M2MListField``, ``M2MSortedSetField``). See
``docs/contrib/related.rst``.
"""

from django_limpyd.contrib.related.fields import (
    FKInstanceHashField,
    FKStringField,
    M2MListField,
    M2MSetField,
    M2MSortedSetField,
)
from django_limpyd.contrib.related.model import RelatedModel

__all__ = [
    "FKInstanceHashField",
    "FKStringField",
    "M2MListField",
    "M2MSetField",
    "M2MSortedSetField",
    "RelatedModel",
]
