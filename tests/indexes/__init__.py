"""Tests of indexes: every lookup suffix, ``Index.configure``, clearing and rebuilding."""
