"""Settings of django_limpyd's own test suite.

The ``default`` database is pointed at the session's private redis-server by
``tests/conftest.py``; the location below is never contacted.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "django_limpyd-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_limpyd",
    "tests.apps.shop",
    "tests.apps.crm",
    "tests.apps.blog",
    "tests.apps.events",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
LIMPYD_DATABASES = {
    "default": {"LOCATION": "redis://127.0.0.1:1/0"},
}
