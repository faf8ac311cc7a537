"""Test-only tools of django_limpyd's own test suite (not part of the package)."""
