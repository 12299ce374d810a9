"""A media folder: a collection's field holds each file's path relative to the root.

The batch's keys are those relative paths (read from the owning collection first). Delete
unlinks the files; the mask `strip_location` rewrites a JPEG without its EXIF GPS block
(piexif, no re-encoding) and an MP4 without its location tag (PyAV remux, no re-encoding).
Every path is checked before anything is written: one that resolves outside the root (`..`,
an absolute path, a symlink out) is refused with an InputError. Each file is done on its
own: the cleaned copy is written beside it, read again, and renamed over the original only
when no location is left in it; a file that cannot be cleaned is a `Failure` in the answer
and the others go on. A call stopped half-way is completed by running it again.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import av
import piexif
import pyarrow as pa

from tutela.connectors.base import Applied, Failure, Target, prepare_keys
from tutela.errors import InputError

JPEG = (".jpg", ".jpeg")
MP4 = (".mp4", ".m4v", ".mov")
INFO = ("bytes", "sha256", "location")  # what `retrieve` can say about a file besides its path
_BRANDS = ("major_brand", "minor_version", "compatible_brands")  # set by the muxer itself


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
                if p.suffix.lower() in JPEG + MP4 and location(p) is None:
                    continue
            except InputError:
                pass  # unreadable: `apply` tries it and reports why it failed
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
                info["location"] = location(p) if p.suffix.lower() in JPEG + MP4 else None
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
                _fsync_dir(folder)
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


def location(path: Path) -> str | None:
    """The file's location as ISO 6709 text, None when it has none."""
    if path.suffix.lower() in JPEG:
        exif = _load_exif(path)
        gps = exif.get("GPS") or {}
        if not gps:
            return None
        try:
            lat = _degrees(gps[piexif.GPSIFD.GPSLatitude], gps[piexif.GPSIFD.GPSLatitudeRef], b"S")
            lon = _degrees(gps[piexif.GPSIFD.GPSLongitude], gps[piexif.GPSIFD.GPSLongitudeRef], b"W")
        except (KeyError, ZeroDivisionError, TypeError):
            return "GPS"  # a GPS block without a readable position still goes
        return f"{lat:+08.4f}{lon:+09.4f}/"
    with _open_media(path) as c:
        tags = {k: v for k, v in c.metadata.items() if "location" in k.lower()}
    return next(iter(tags.values()), None) if tags else None


def _load_exif(path: Path) -> dict[str, dict[int, object]]:
    try:
        exif: dict[str, dict[int, object]] = piexif.load(str(path))
    except (ValueError, struct.error, piexif.InvalidImageDataError) as exc:
        raise InputError(f"cannot read the JPEG's EXIF: {exc}", where=str(path)) from None
    return exif


def _degrees(value: object, ref: object, negative: bytes) -> float:
    assert isinstance(value, tuple)
    x = float(sum(n / d / 60**i for i, (n, d) in enumerate(value)))
    return -x if ref == negative else x


def _strip_jpeg(path: Path) -> bytes:
    exif = _load_exif(path)
    exif["GPS"] = {}
    exif.get("0th", {}).pop(piexif.ImageIFD.GPSTag, None)
    raw, out = path.read_bytes(), io.BytesIO()
    try:
        piexif.insert(piexif.dump(exif), raw, out)
    except (ValueError, struct.error):  # EXIF piexif cannot write back: drop all of it
        out = io.BytesIO()
        piexif.remove(raw, out)
    return out.getvalue()


def _open_media(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable video: {exc}", where=str(path)) from None


def _strip_mp4(path: Path) -> bytes:
    """The video remuxed (packets copied, not re-encoded) without location metadata."""
    out_buf = io.BytesIO()
    with _open_media(path) as src, av.open(out_buf, "w", format="mp4") as out:
        for k, v in src.metadata.items():
            if "location" not in k.lower() and k not in _BRANDS:
                out.metadata[k] = v
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        for s in streams.values():
            for k in [k for k in s.metadata if "location" in k.lower()]:
                del s.metadata[k]
        for packet in src.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return out_buf.getvalue()


def _strip(path: Path) -> str | None:
    """Strip one file's location; None when done and verified, else why it was not.

    The stripped copy is written beside the original (same suffix), read again, and renamed
    over the original only when no location is found in it: a failure leaves the original."""
    suffix = path.suffix.lower()
    if suffix not in JPEG + MP4:
        return f"refused: cannot strip the location from a `{suffix or 'suffix-less'}` file"
    tmp = path.with_name(f".{path.stem}.tutela-tmp{path.suffix}")
    try:
        data = _strip_jpeg(path) if suffix in JPEG else _strip_mp4(path)
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if location(tmp) is not None:
            return "refused: location still present after cleaning; the original is kept"
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except InputError as exc:
        return f"refused: {exc.message}"
    except OSError as exc:
        return f"refused: {exc.strerror or exc}"
    finally:
        tmp.unlink(missing_ok=True)
    return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
