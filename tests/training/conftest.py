"""Fixtures shared by the training tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def clean_gin():
    """An empty gin config before and after the test (files that parse configs use it for
    every test: ``pytestmark = pytest.mark.usefixtures("clean_gin")``)."""
    gin = pytest.importorskip("gin")
    gin.clear_config()
    yield
    gin.clear_config()
