"""The DRF tests run on ``tests.contrib.drf.urls`` with DRF's APIClient."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _drf_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.contrib.drf.urls"


@pytest.fixture
def client() -> APIClient:
    """DRF's test client (JSON requests)."""
    return APIClient()
