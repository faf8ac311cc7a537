"""The demo project's REST API (``/api/``), through DRF's APIClient with the demo
settings, in a process of its own (as ``test_demo.py``)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.settings"
django.setup()
from django.test.utils import setup_test_environment
from rest_framework.test import APIClient
setup_test_environment()
client = APIClient()
root = client.get("/api/").json()
assert root == {"persons": "http://testserver/api/persons/",
                "pages": "http://testserver/api/pages/"}, root
for name, city, year, tags in [("Ann", "Paris", 1980, ["a"]), ("Bob", "Rome", 1990, ["b"]),
                               ("Cid", "Paris", 2001, ["a", "b"])]:
    response = client.post("/api/persons/", {"name": name, "city": city, "birth_year": year,
                                             "tags": tags}, format="json")
    assert response.status_code == 201, response.content
listed = client.get("/api/persons/?city=Paris&ordering=-birth_year&page_size=1").json()
assert listed["count"] == 2 and listed["results"][0]["name"] == "Cid", listed
assert client.get(listed["next"]).json()["results"][0]["name"] == "Ann"
again = client.post("/api/persons/", {"name": "Ann"}, format="json")
assert again.status_code == 400 and again.json() == {
    "name": ["Person with this name already exists."]}, again.content
assert client.get("/api/persons/?tags=zz").json()["count"] == 0
assert client.get("/api/persons/?tag=a").json()["count"] == 3  # not a field: not a filter
assert client.get("/").status_code == 200  # the home page still works, and counts a visit
pages = client.get("/api/pages/").json()
assert [page["path"] for page in pages["results"]] == ["/"], pages
assert client.delete("/api/persons/2/").status_code == 204
print("demo api ok")
"""


@pytest.mark.timeout(60)
def test_demo_api(redis_server):
    url = redis_server.url.replace("db=0", "db=9")
    env = {"LIMPYD_REDIS_URL": url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    assert "demo api ok" in done.stdout
    redis_server.client(db=9).flushdb()
