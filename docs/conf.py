"""Sphinx configuration of the django_limpyd documentation."""

import re
from pathlib import Path

_init = (Path(__file__).resolve().parent.parent / "django_limpyd" / "__init__.py").read_text()
_match = re.search(r'^__version__ = "([^"]+)"$', _init, re.MULTILINE)
if _match is None:
    raise RuntimeError('no __version__ = "..." line in django_limpyd/__init__.py')

project = "django_limpyd"
author = "django_limpyd contributors"
copyright = "django_limpyd contributors"
release = version = _match.group(1)

extensions: list[str] = []
root_doc = "index"
exclude_patterns = ["_build"]
highlight_language = "python3"

html_theme = "alabaster"
html_title = f"django_limpyd {release}"
