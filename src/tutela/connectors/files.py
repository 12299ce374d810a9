"""A media folder: a collection's field holds each file's path relative to the root.

The batch's keys are those relative paths (read from the owning collection first). Delete
unlinks the files; the mask `strip_location` rewrites a JPEG without its EXIF GPS block
(piexif, no re-encoding) and an MP4 without its location tag (PyAV remux, no re-encoding),
to a temporary file beside it that is fsynced and renamed over the original. Every path is
checked before anything is written: one that resolves outside the root (`..`, an absolute
path, a symlink out) is refused with an InputError. Each file changes atomically; a call
stopped half-way is completed by running it again (files already done count 0).
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

from tutela.connectors.base import Target, prepare_keys
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

    def _strip_todo(self, target: Target, keys: pa.Table) -> list[Path]:
        """The existing files whose location would be stripped; refuses other masks and file types."""
        field = self._field(target.collection)
        for name, s in target.masks.items():
            if name != field or s.strategy != "strip_location":
                raise InputError(f"files take only `strip_location` on `{field}`, not `{s}` on `{name}`",
                                 where=f"{self.where}: {target.collection}")
        files = [p for _rel, p in self._paths(target.collection, target.match, keys) if p.is_file()]
        for p in files:
            if p.suffix.lower() not in JPEG + MP4:
                raise InputError(f"cannot strip the location from `{p.name}`: only JPEG and MP4 files",
                                 where=f"{self.where}: {target.collection}")
        return [p for p in files if location(p) is not None]

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

    def apply(self, target: Target, keys: pa.Table) -> int:
        if target.action == "delete":
            files = [p for _rel, p in self._paths(target.collection, target.match, keys) if p.is_file()]
            for p in files:
                p.unlink()
            for folder in {p.parent for p in files}:
                _fsync_dir(folder)
            return len(files)
        todo = self._strip_todo(target, keys)
        for p in todo:
            _replace(p, _strip_jpeg(p) if p.suffix.lower() in JPEG else _strip_mp4(p))
        return len(todo)

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


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tutela.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
