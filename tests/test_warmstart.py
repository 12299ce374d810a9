"""The packaged rulebook's warm start: the same decisions from the cache as from the YAML, and a
cache that is damaged or writable by others is ignored, never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tutela import warmstart
from tutela.engine import Engine

REQUESTS = [
    {"subject": {"jurisdiction": "NL", "age": 12},
     "act": {"category": "user.location.precise", "use": "marketing.advertising"}},
    {"subject": {"jurisdiction": "US", "age": 11,
                 "grants": [{"scopes": ["processing"], "by": "parent", "assurance": "verified"}]},
     "act": {"category": "user.content.video", "use": "essential.service"}},
    {"subject": {"jurisdiction": "GB", "age": 30}, "act": {"category": "user.behavior", "use": "personalize"}},
]


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUTELA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _decisions(engine: Engine) -> list[dict[str, object]]:
    return [engine.decide(r).model_dump(mode="json") for r in REQUESTS]


def test_a_warm_engine_decides_as_a_cold_one(cache: Path) -> None:
    cold = Engine()
    expected = _decisions(cold)  # builds the compiled policy, which writes the cache
    files = list(cache.glob("engine-*.pickle"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    assert warmstart.load() is not None
    warm = Engine()
    assert "compiled" in warm.__dict__  # taken from the cache, not compiled again
    assert _decisions(warm) == expected
    assert warm.version == cold.version


def test_damaged_or_foreign_writable_cache_is_ignored(cache: Path) -> None:
    expected = _decisions(Engine())
    (path,) = cache.glob("engine-*.pickle")
    path.write_bytes(b"not a pickle")
    assert warmstart.load() is None
    assert _decisions(Engine()) == expected  # rebuilt from the YAML, and the cache written again
    assert warmstart.load() is not None
    os.chmod(path, 0o666)
    assert warmstart.load() is None  # others could have written it: not read


def test_a_given_rulebook_is_never_cached(cache: Path, engine: Engine) -> None:
    assert Engine(rulebook=engine.rulebook).decide(REQUESTS[0]).effect == "deny"
    assert not cache.exists() or not list(cache.glob("engine-*.pickle"))
