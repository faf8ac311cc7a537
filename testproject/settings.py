"""Settings of the django_limpyd demo project.

By default Redis is embedded: django_limpyd starts a private redis-server on a
unix socket in ``var/redis`` on first use, as SQLite needs no server either.
Set ``LIMPYD_REDIS_URL`` (or ``REDIS_URL``) to use a Redis server of your own,
e.g. ``redis://127.0.0.1:6379/0``.

Environment variables: ``DJANGO_DEBUG`` (default on; ``0``, ``false``, ``no``
or ``off`` turn it off), ``DJANGO_SECRET_KEY``, ``LIMPYD_REDIS_URL``,
``REDIS_URL``.
"""

import os
from importlib.util import find_spec
from pathlib import Path

#: The repository root: ``var/`` holds the SQLite file and the embedded Redis.
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # SQLite does not create the directory of its file

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django_limpyd-demo-key-not-for-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1").strip().lower() not in {"0", "false", "no", "off"}
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_limpyd",
    "testproject.demo",
]
if find_spec("rest_framework") is not None:  # the `drf` extra: the REST API under /api/
    INSTALLED_APPS.insert(-2, "rest_framework")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testproject.urls"
WSGI_APPLICATION = "testproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
    }
}

LIMPYD_DATABASES = {
    "default": {
        "LOCATION": os.environ.get("LIMPYD_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or "embedded://var/redis",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
