"""Concurrency tests: several real processes writing to one real redis-server."""
