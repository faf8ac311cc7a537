"""Settings of the admin-like pages' tests: ``tests.settings`` plus Django's admin.

``tests/admin/conftest.py`` applies :data:`OVERRIDES` with ``override_settings``
around the tests of ``tests/admin`` (the rest of the suite keeps
``tests.settings``); ``--ds tests.settings_admin`` also works for those tests.
Sessions are signed cookies, so no session table is needed.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as BASE_APPS

INSTALLED_APPS = [
    "django.contrib.admin",
    *BASE_APPS,
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tests.admin.library",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "tests.admin.urls"
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
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

#: What the admin tests override in ``tests.settings``.
OVERRIDES = {
    name: globals()[name]
    for name in (
        "INSTALLED_APPS",
        "MIDDLEWARE",
        "ROOT_URLCONF",
        "TEMPLATES",
        "SESSION_ENGINE",
        "STATIC_URL",
        "PASSWORD_HASHERS",
        "ALLOWED_HOSTS",
    )
}
