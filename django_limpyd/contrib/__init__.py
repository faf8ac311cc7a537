"""Contributed extras of django_limpyd (related fields, pipelines, extended collections)."""
