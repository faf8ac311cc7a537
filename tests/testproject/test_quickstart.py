"""What the README and the quickstart say about the demo matches the Makefile and the
demo's code (issue 21): a ``PORT`` variable, how the embedded server is stopped, how
the visits are counted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_takes_a_port():
    def planned(*args: str) -> str:
        done = subprocess.run(
            # no "make[1]: Leaving directory" line when the suite runs under make
            # (`make test`): a sub-make prints the directory by default
            ["make", "--no-print-directory", "-n", "-W", "setup.cfg", "demo", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()[-1]

    assert planned().endswith("manage.py runserver 127.0.0.1:8000")
    assert planned("PORT=8123").endswith("manage.py runserver 127.0.0.1:8123")


def test_the_docs_count_visits_as_the_demo_does():
    views = (ROOT / "testproject" / "demo" / "views.py").read_text()
    assert "page.visits.hincrby(1)" in views
    for doc in ("README.rst", "docs/quickstart.rst"):
        text = (ROOT / doc).read_text()
        assert "page.visits.hincrby(1)" in text and "INCR demo:visits" not in text
        assert "manage.py limpyd_embedded stop" in text and "PORT=8001" in text
