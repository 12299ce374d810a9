"""One file cleaned: detect its format, clean it, verify the output with a reader, then replace.

The format comes from the file's bytes, not its name. A cleaned copy is written beside the
original (same folder, hidden name), fsynced, read again by the format's location reader
(`findings`, a different code path from the writer: it looks for every location-bearing
container rather than keeping an allow-list) and renamed over the original only when that
reader finds nothing. Any failure leaves the original untouched and makes the file `refused`;
in `strict` mode a refused file is quarantined or deleted (`on_refuse`), never passed on.
"""

from __future__ import annotations

import mmap
import os
import shutil
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from tutela.media import bmff, heif, jpeg, png, tiff, video, webp
from tutela.media.errors import MediaError, TooLarge
from tutela.media.limits import DEFAULT, Limits, run_worker
from tutela.media.result import Finding, MediaResult

OnRefuse = Literal["keep", "quarantine", "delete"]
QUARANTINE = ".tutela-quarantine"
Cleaner = Callable[[bytes, bool], tuple[bytes, list[str]]]
IMAGES: dict[str, tuple[Cleaner, Callable[[bytes], list[Finding]]]] = {
    "jpeg": (jpeg.clean, jpeg.findings), "png": (png.clean, png.findings), "webp": (webp.clean, webp.findings),
    "tiff": (tiff.clean, tiff.findings), "heif": (heif.clean, heif.findings),
}
FORMATS = (*IMAGES, "video")


def detect(head: bytes) -> str | None:
    """The format from the first 16 bytes: jpeg, png, webp, tiff, heif, video, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(png.SIGNATURE):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "tiff"
    if head[4:8] == b"ftyp":
        return "heif" if head[8:12] in heif.BRANDS else "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video"
    return None


def inspect(path: Path, limits: Limits = DEFAULT) -> tuple[str, list[Finding]]:
    """(format, location-bearing containers found) of one file; MediaError when unsupported."""
    fmt, data, _mode = _open(path, limits)
    if data is not None:
        return fmt, IMAGES[fmt][1](data)
    if path.stat().st_size == 0:
        raise MediaError("empty file")
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return fmt, bmff.findings(buf)


def _open(path: Path, limits: Limits) -> tuple[str, bytes | None, int]:
    """The format, an image's bytes (read once, within the size bound; None for a video) and
    the file's permission bits."""
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())
            size = info.st_size
            head = fh.read(16)
            fmt = detect(head)
            if fmt is None:
                raise MediaError("not a supported media format (JPEG, PNG, WebP, TIFF, HEIF, MP4/MOV/M4V)")
            bound = limits.max_video_bytes if fmt == "video" else limits.max_image_bytes
            if size > bound:
                raise TooLarge(f"{size} bytes is over the {fmt} limit of {bound} bytes")
            return fmt, None if fmt == "video" else head + fh.read(), stat.S_IMODE(info.st_mode)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}") from None


def _free_plan(path: Path) -> list[tuple[int, int, str]] | None:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return video.free_plan(buf)


def _write(tmp: Path, data: bytes, mode: int = 0o644) -> None:
    """Write and fsync `data` (the original's permission bits kept)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        view, done = memoryview(data), 0
        while done < len(data):
            done += os.write(fd, view[done:])
        os.fsync(fd)
    finally:
        os.close(fd)


def _verify(tmp: Path, fmt: str, limits: Limits, written: bytes | None) -> None:
    """Read the cleaned copy again (an image: the bytes just written and fsynced; a video:
    the worker's file, from disk) with the location reader; anything found fails it."""
    if written is not None:
        got_fmt, left = detect(written[:16]) or "unknown", IMAGES[fmt][1](written)
    else:
        got_fmt, left = inspect(tmp, limits)
    if got_fmt != fmt:
        raise MediaError(f"the cleaned copy reads as {got_fmt}, not {fmt}; the original is kept")
    if left:
        raise MediaError(f"verification found location left after cleaning ({left[0]}); the original is kept")


def clean_file(path: Path, *, strict: bool = False, dest: Path | None = None, limits: Limits = DEFAULT,
               on_refuse: OnRefuse = "keep", quarantine: Path | None = None) -> MediaResult:
    """Clean one file in place (or into `dest`); never raises for the file's own faults.

    `on_refuse` applies to a refused file: `keep` it (remediation: the original stays and the
    failure is reported), move it to `quarantine` (default `<folder>/.tutela-quarantine/`) or
    `delete` it (uploads in strict mode: never passed through as clean)."""
    target = dest or path
    tmp = target.parent / f".{target.name}.tutela-tmp"
    fmt = "unknown"
    found: list[Finding] = []
    written: bytes | None = None
    renamed = False
    try:
        fmt, data, mode = _open(path, limits)
        if data is None:  # a video
            _, found = inspect(path, limits)
            if not found and not strict:
                if dest is not None:
                    shutil.copyfile(path, dest)
                return MediaResult(str(path), fmt, "already_clean")
            plan = None if strict else _free_plan(path)
            if plan is not None:  # enough to free the location boxes in a copy: nothing moves
                shutil.copyfile(path, tmp)
                removed = video.free_in_place(tmp, plan)
            else:
                removed = run_worker(path, tmp, strict, limits)
                removed += [f"{f.container}: {f.what}" for f in found]  # what the remux did not carry over
            os.chmod(tmp, mode)
        else:
            cleaner, reader = IMAGES[fmt]
            new, removed = cleaner(data, strict)
            if new == data:
                found = reader(data)  # nothing to remove: the reader must agree there is nothing
                if found:
                    raise MediaError(f"location remains that this cleaner cannot remove ({found[0]})")
                if dest is not None:
                    _write(dest, data, mode)
                return MediaResult(str(path), fmt, "already_clean", found=())
            written = new
            _verify(tmp, fmt, limits, written)  # before anything is written
            _write(tmp, new, mode)
        if written is None:
            _verify(tmp, fmt, limits, None)
        os.replace(tmp, target)
        renamed = True
        fsync_dir(target.parent)
        return MediaResult(str(path), fmt, "cleaned", tuple(removed), found=tuple(found))
    except MediaError as exc:
        reason = exc.message
    except OSError as exc:
        reason = str(exc.strerror or exc)
    except (struct.error, IndexError, ValueError) as exc:
        # a parser fault on hostile bytes (a bound that held, reported per file, never raised)
        reason = f"cannot parse this file ({type(exc).__name__}: {exc})"
    finally:
        if not renamed:
            tmp.unlink(missing_ok=True)
    return MediaResult(str(path), fmt, "refused", reason=_refuse(path, reason, on_refuse, quarantine),
                       found=tuple(found))


def _refuse(path: Path, reason: str, on_refuse: OnRefuse, quarantine: Path | None) -> str:
    try:
        if on_refuse == "delete":
            path.unlink(missing_ok=True)
            return f"{reason} (deleted)"
        if on_refuse == "quarantine":
            folder = quarantine or path.parent / QUARANTINE
            folder.mkdir(parents=True, exist_ok=True)
            moved = folder / path.name
            os.replace(path, moved)
            return f"{reason} (quarantined to {moved})"
    except OSError as exc:
        return f"{reason} (and it could not be {on_refuse}d: {exc.strerror or exc})"
    return reason


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def location(path: Path, limits: Limits = DEFAULT) -> str | None:
    """The file's location as text (ISO 6709 where readable), None when it has none."""
    _fmt, found = inspect(path, limits)
    if not found:
        return None
    readable = [f.value for f in found if f.what in ("GPS", "©xyz", "loci") and f.value]
    return readable[0] if readable else str(found[0])


__all__ = ["FORMATS", "clean_file", "detect", "fsync_dir", "inspect", "location", "video"]
