"""tutela.media: the one media sanitizer (library, `tutela media clean`, `POST /v1/media/clean`,
remediation's `strip_location`).

    from tutela.media import clean_file, clean_many, inspect, location
    result = clean_file(Path("photo.jpg"), strict=True)    # MediaResult: cleaned / already_clean / refused
    fmt, found = inspect(Path("clip.mov"))                 # location-bearing containers (Finding)

Formats: JPEG, PNG, WebP, TIFF, HEIC/HEIF/AVIF (in-process, parsers bounded by construction)
and MP4/MOV/M4V (PyAV remux in a bounded child process). Depends only on `tutela.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tutela.media.clean import FORMATS, QUARANTINE, OnRefuse, clean_file, detect, inspect, location
from tutela.media.errors import MediaError, TooLarge
from tutela.media.limits import DEFAULT, Limits
from tutela.media.result import STATUSES, Finding, MediaResult, Status


def clean_many(paths: Iterable[Path], *, strict: bool = False, limits: Limits = DEFAULT,
               on_refuse: OnRefuse = "keep", progress: Callable[[MediaResult], None] | None = None
               ) -> list[MediaResult]:
    """Each file on its own: a refused file never stops the others."""
    out = []
    for p in paths:
        result = clean_file(p, strict=strict, limits=limits, on_refuse=on_refuse)
        out.append(result)
        if progress is not None:
            progress(result)
    return out


__all__ = ["DEFAULT", "FORMATS", "QUARANTINE", "STATUSES", "Finding", "Limits", "MediaError", "MediaResult",
           "OnRefuse", "Status", "TooLarge", "clean_file", "clean_many", "detect", "inspect", "location"]
