"""A warm start for the packaged rulebook: the validated rulebook, the taxonomy and the compiled
tables, pickled once into Tutela's cache folder, so a one-off `tutela decide` does not parse 50
YAML files and compile masks on every call.

The cache is keyed by Tutela's version, Python's, and the size and modification time of every
packaged data file and of the modules whose objects are pickled: any change misses and rebuilds.
It is read only when the file belongs to the current user and nobody else may write it; any
problem reading or writing it falls back to building from the YAML (the cache is never needed).
A user-supplied rulebook (`--rulebook`, `rules check PATH`) is never cached.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import tutela
from tutela import settings

if TYPE_CHECKING:
    from tutela.policy.compiled import CompiledPolicy
    from tutela.rulebook import Rulebook
    from tutela.taxonomy import Taxonomy

_CODE = ("rulebook", "taxonomy", "policy")


def _key() -> str:
    h = hashlib.sha256(f"{tutela.__version__}|{sys.version}".encode())
    roots = [Path(str(resources.files("tutela.data")))] + [Path(tutela.__file__).parent / p for p in _CODE]
    for root in roots:
        for f in sorted(root.rglob("*")):
            if f.suffix in (".yaml", ".yml", ".json", ".py") and f.is_file():
                st = f.stat()
                h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _path() -> Path:
    return settings.cache_dir() / f"engine-{_key()}.pickle"


def load() -> tuple[Rulebook, Taxonomy, CompiledPolicy] | None:
    """The cached packaged rulebook, taxonomy and compiled policy, or None (then build them)."""
    try:
        path = _path()
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with path.open("rb") as fh:
            book, tax, compiled = pickle.load(fh)
        return book, tax, compiled
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None


def save(book: Rulebook, tax: Taxonomy, compiled: CompiledPolicy) -> None:
    """Write the cache atomically (a temporary file renamed into place); failures are ignored."""
    try:
        path = _path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((book, tax, compiled), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except (OSError, pickle.PicklingError):
        return
