"""Fixtures shared by the test modules of this folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from scheduler.target import PACKAGE


@pytest.fixture
def restore_sdk_modules() -> Iterator[None]:
    """Tests that load SDKs (directly or through a CLI) leave `sys.modules` as they found it."""
    previous = {name: m for name, m in sys.modules.items() if name.startswith(PACKAGE)}
    yield
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]
    sys.modules.update(previous)
