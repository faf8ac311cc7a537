"""The demo project's pages, through Django's test client with the demo settings' apps."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_demo_home_page_counts_lists_and_adds(redis_server):
    url = redis_server.url.replace("db=0", "db=8")
    code = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.settings"
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
assert client.get("/").status_code == 200
page = client.get("/")
assert b'id="visits">2<' in page.content, page.content
response = client.post("/", {"name": "Ann", "city": "Paris", "birth_year": 1980, "tags": "a, b"})
assert response.status_code == 302, response.content
again = client.post("/", {"name": "Ann", "city": "Rome", "birth_year": 1990})
assert b"already exists" in again.content
listed = client.get("/?city=Paris")
assert b"<td>Ann</td>" in listed.content
assert b"<td>Ann</td>" not in client.get("/?city=Rome").content
print("demo ok")
"""
    env = {"LIMPYD_REDIS_URL": url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    assert "demo ok" in done.stdout
    redis_server.client(db=8).flushdb()
