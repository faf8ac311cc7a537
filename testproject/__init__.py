"""The django_limpyd demo project: ``make demo`` runs it on an embedded Redis."""
