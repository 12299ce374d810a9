"""TIFF files: scrubbed in place (`tutela.media.exif`), pages and image data kept where they are.

Kept per page: the image structure tags, orientation and the ICC profile (strict), plus the
camera, date and exposure tags (otherwise); the strips or tiles are copied to their own
offsets. Removed: the GPS IFD, XMP, IPTC, Photoshop blocks, maker notes, sub-images
(SubIFDs: reduced-resolution previews) and every orphan byte (zeroed)."""

from __future__ import annotations

from tutela.media import exif
from tutela.media.result import Finding


def clean(data: bytes, strict: bool) -> tuple[bytes, list[str]]:
    new, _end, removed = exif.scrub(data, "TIFF", exif.policy(strict, image_file=True), pages=True)
    return new, removed


def findings(data: bytes) -> list[Finding]:
    return exif.findings(data, "TIFF", pages=True)
