"""The "real" server of the throwaway projects: tests must never write to it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_limpyd.test.server import PrivateRedisServer
from tests.test.project import SENTINEL, make_project


@pytest.fixture
def real_server() -> Iterator[PrivateRedisServer]:
    """The server of the project's settings, with a sentinel key in db 0 and db 1."""
    directory = tempfile.mkdtemp(prefix="lpd-real-")
    server = PrivateRedisServer(directory).start()
    for db in (0, 1):
        client = server.client(db=db)
        client.set(SENTINEL, f"real data {db}")
        client.close()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path, real_server: PrivateRedisServer) -> Path:
    """The throwaway project, its aliases on db 0 and db 1 of the real server."""
    return make_project(tmp_path / "site", real_server.url)
