"""The Redis models of the demo app.

A Django app declares its django_limpyd models in a ``redis_models`` module, as
it declares its SQL models in ``models``; django_limpyd will import it for every
installed app when the ORM lands. The ORM is in progress, so this app declares
none yet: its home page talks to Redis through
``django_limpyd.databases["default"].connection``.
"""
