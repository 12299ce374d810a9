from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tutela.engine import Engine


@pytest.fixture(scope="session", autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the real `~/.tutela`: every test (and every subprocess it starts)
    gets a TUTELA_HOME of the session's own unless it sets one itself."""
    real = Path("~/.tutela").expanduser()
    before = sorted(p.name for p in real.iterdir()) if real.is_dir() else None
    old = os.environ.get("TUTELA_HOME")
    os.environ["TUTELA_HOME"] = str(tmp_path_factory.mktemp("tutela-home"))
    os.environ["TUTELA_CACHE"] = str(tmp_path_factory.mktemp("tutela-cache"))  # the warm start's folder
    os.environ.pop("TUTELA_STATE", None)
    yield
    if old is None:
        os.environ.pop("TUTELA_HOME", None)
    else:
        os.environ["TUTELA_HOME"] = old
    after = sorted(p.name for p in real.iterdir()) if real.is_dir() else None
    assert after == before, f"the tests changed the real {real}"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()
