"""What the sanitizer says about one file, and what a reader found in one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["cleaned", "already_clean", "refused"]
STATUSES: tuple[Status, ...] = ("cleaned", "already_clean", "refused")


@dataclass(frozen=True)
class Finding:
    """A location-bearing (or possibly location-bearing) container found in a file.

    `container` names where (e.g. `APP1 EXIF #2`, `XMP`, `udta/©xyz`), `what` what it is
    (`GPS`, `City`, `maker note`, `thumbnail`...), `value` the location text when readable."""

    container: str
    what: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.container}: {self.what}" + (f" = {self.value}" if self.value else "")


@dataclass(frozen=True)
class MediaResult:
    """One file's outcome. `removed` lists what was taken out; `reason` says why it was refused."""

    path: str
    format: str
    status: Status
    removed: tuple[str, ...] = ()
    reason: str | None = None
    # what the location reader found in the original, where it was read (videos, and images
    # that had nothing the cleaner could remove); a cleaned image's list is `removed`
    found: tuple[Finding, ...] = field(default=())

    @property
    def failure(self) -> str | None:
        """The reason text for a refused file, starting with its status word; None otherwise."""
        return f"refused: {self.reason}" if self.status == "refused" else None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "format": self.format, "status": self.status,
                                  "removed": list(self.removed), "found": [str(f) for f in self.found]}
        if self.reason:
            out["reason"] = self.reason
        return out
