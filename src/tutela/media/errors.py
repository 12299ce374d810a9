"""Errors of the media sanitizer.

    InputError (tutela.errors)
    └── MediaError          one file cannot be read or cleaned; the message says why
        └── TooLarge        the file is over a size or time bound (HTTP 413 at the edge)

A MediaError ends one file's cleaning with status `refused`; it never stops a batch.
"""

from __future__ import annotations

from tutela.errors import InputError


class MediaError(InputError):
    """One file cannot be read or cleaned safely."""


class TooLarge(MediaError):
    """The file is over a bound (bytes, boxes, time)."""
