"""Test helpers for projects using django_limpyd (and for django_limpyd itself)."""
