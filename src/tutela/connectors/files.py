"""A media folder: a collection's field holds each file's path relative to the root.

The batch's keys are those relative paths (read from the owning collection first). Delete
unlinks the files; the mask `strip_location` is `tutela.media.clean_file` (JPEG, PNG, WebP,
TIFF, HEIF, MP4/MOV/M4V; location, thumbnails, XMP, IPTC, maker notes removed, the picture
never re-encoded) and nothing else. Every path is checked before anything is written: one
that resolves outside the root (`..`, an absolute path, a symlink out) is refused with an
InputError. Each file is done on its own: the cleaned copy is written beside it, read again
by an independent reader, and renamed over the original only when no location is left in
it; a file that cannot be cleaned is a `Failure` in the answer (`refused: <why>`) and the
others go on. A call stopped half-way is completed by running it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import pyarrow as pa

from tutela import media
from tutela.connectors.base import Applied, Failure, Target, prepare_keys
from tutela.errors import InputError
from tutela.media.clean import fsync_dir

INFO = ("bytes", "sha256", "location")  # what `retrieve` can say about a file besides its path


class FilesConnector:
    kind = "files"

    def __init__(self, root: Path, collections: Mapping[str, str]) -> None:
        """`collections`: collection -> the field holding its files' relative paths."""
        self.root = root
        self.where = str(root)
        self._collections = dict(collections)

    def _root(self) -> Path:
        if not self.root.is_dir():
            raise InputError("media folder not found", where=self.where)
        return self.root.resolve()

    def _field(self, collection: str) -> str:
        if collection not in self._collections:
            raise InputError(f"collection `{collection}` has no files declared", where=self.where,
                             hint="declare it under a `kind: files` store in `tutela.stores`")
        return self._collections[collection]

    def _paths(self, collection: str, match: tuple[str, ...], keys: pa.Table) -> list[tuple[str, Path]]:
        """(relative path, resolved path) of each key, every one checked to stay under the root."""
        field = self._field(collection)
        if match != (field,):
            raise InputError(f"files of `{collection}` are matched on `{field}`, not on {', '.join(match)}",
                             where=self.where)
        root = self._root()
        out = []
        for rel in prepare_keys(keys, match, f"{collection} keys")[field].to_pylist():
            text = str(rel)
            full = (root / text).resolve()
            if not text or PurePosixPath(text).is_absolute() or not full.is_relative_to(root):
                raise InputError(f"path `{text}` escapes the media folder", where=f"{self.where}: {collection}")
            out.append((text, full))
        return out

    def _strip_masks(self, target: Target) -> None:
        """Files take only `strip_location` on their path field; anything else is a plan error."""
        field = self._field(target.collection)
        for name, s in target.masks.items():
            if name != field or s.strategy != "strip_location":
                raise InputError(f"files take only `strip_location` on `{field}`, not `{s}` on `{name}`",
                                 where=f"{self.where}: {target.collection}")

    def _strip_todo(self, target: Target, keys: pa.Table) -> list[tuple[str, Path]]:
        """The existing files whose location would be stripped (unreadable ones count: they are tried)."""
        self._strip_masks(target)
        todo = []
        for rel, p in self._paths(target.collection, target.match, keys):
            if not p.is_file():
                continue
            try:
                if location(p) is None:
                    continue
            except InputError:
                pass  # unsupported or unreadable: `apply` tries it and reports why it was refused
            todo.append((rel, p))
        return todo

    # -- the interface ----------------------------------------------------------------------

    def check(self, need: Mapping[str, set[str]]) -> None:
        self._root()
        for name, fields in need.items():
            field = self._field(name)
            unknown = sorted(set(fields) - {field, *INFO})
            if unknown:
                raise InputError(f"field(s) {', '.join(f'`{name}.{f}`' for f in unknown)} are not file fields",
                                 where=self.where, hint=f"files of `{name}` have `{field}`, {', '.join(INFO)}")

    def count(self, target: Target, keys: pa.Table) -> int:
        if target.action == "delete":
            return sum(p.is_file() for _rel, p in self._paths(target.collection, target.match, keys))
        return len(self._strip_todo(target, keys))

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        """One row per existing file: the path field, `bytes`, `sha256`, `location` (ISO 6709)."""
        self.check({collection: set(fields)})
        field = self._field(collection)
        rows: dict[str, list[object]] = {f: [] for f in fields}
        for rel, p in self._paths(collection, match, keys):
            if not p.is_file():
                continue
            info: dict[str, object] = {field: rel, "bytes": p.stat().st_size}
            if "sha256" in rows:
                info["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
            if "location" in rows:
                info["location"] = _location_or_none(p)
            for f in rows:
                rows[f].append(info[f])
        types = {field: pa.string(), "bytes": pa.int64(), "sha256": pa.string(), "location": pa.string()}
        return pa.table({f: pa.array(v, types[f]) for f, v in rows.items()})

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        """Each file on its own: one that cannot be changed is a `Failure`, the others go on.

        A stripped file is written beside the original, read again and replaces it only when
        no location is found in it; otherwise the original stays and the file is a failure."""
        failed: list[Failure] = []
        if target.action == "delete":
            gone = []
            for rel, p in self._paths(target.collection, target.match, keys):
                try:
                    p.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    failed.append(Failure((rel,), f"cannot delete: {exc.strerror}"))
                    continue
                gone.append(p)
            for folder in {p.parent for p in gone}:
                fsync_dir(folder)
            return Applied(len(gone), tuple(failed))
        changed = 0
        for rel, p in self._strip_todo(target, keys):
            reason = _strip(p)
            if reason is None:
                changed += 1
            else:
                failed.append(Failure((rel,), reason))
        return Applied(changed, tuple(failed))

    def close(self) -> None:
        """Nothing is held open between calls."""


def _location_or_none(path: Path) -> str | None:
    """For `retrieve`: a file that is not a supported media file has no location to report;
    one over the sanitizer's size bound is not read, and says so rather than `None`."""
    try:
        return media.location(path)
    except media.TooLarge as exc:
        return f"unknown ({exc.message})"
    except media.MediaError:
        return None


def location(path: Path) -> str | None:
    """The file's location (ISO 6709 where readable, else what carries it), None when it has none."""
    try:
        return media.location(path)
    except media.MediaError as exc:
        raise InputError(exc.message, where=str(path)) from None


def _strip(path: Path) -> str | None:
    """Strip one file's location with `tutela.media`; None when cleaned and verified, else why not
    (starting with the result's status word). A refused file is left as it was."""
    result = media.clean_file(path)
    return result.failure

