"""The bounds every file is cleaned under.

Images (JPEG, PNG, WebP, TIFF, HEIF) are cleaned in this process by parsers bounded by
construction: the file is read once (at most `max_image_bytes`), no count or length in it is
trusted beyond the file's own size, every loop moves forward through the file, and no pixel is
ever decoded (a decompression bomb or a 100,000 x 100,000 frame costs what its bytes cost).
Memory is at most about three times the file; time is linear in its size.

Videos are remuxed by FFmpeg (PyAV), a C demuxer, so each runs in its own child process
(`python -m tutela.media.worker`) under an address-space limit (`video_memory`), a CPU-time
limit and a wall-clock timeout (`video_seconds`); a video over a bound is refused.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tutela.media.errors import MediaError, TooLarge

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int = 256 * MIB
    max_video_bytes: int = 64 * 1024 * MIB
    video_seconds: float = 300.0
    video_memory: int = 3 * 1024 * MIB


DEFAULT = Limits()


def run_worker(src: Path, dst: Path, strict: bool, limits: Limits) -> list[str]:
    """Remux `src` to `dst` in a bounded child process; what it removed."""

    def bound() -> None:  # runs in the child, before Python starts
        resource.setrlimit(resource.RLIMIT_AS, (limits.video_memory, limits.video_memory))
        cpu = int(limits.video_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    cmd = [sys.executable, "-m", "tutela.media.worker", str(src), str(dst), "strict" if strict else "lenient"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=limits.video_seconds, preexec_fn=bound, check=False)
    except subprocess.TimeoutExpired:
        raise TooLarge(f"the remux took longer than {limits.video_seconds:g} s") from None
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        why = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        raise MediaError(f"the remux process failed ({why}): {tail[0][:200]}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise MediaError(str(answer["error"]))
    return [str(r) for r in answer["removed"]]
