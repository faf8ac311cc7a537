"""Reads sent to read-only replicas, writes to the primary (real servers)."""
