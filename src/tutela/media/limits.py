"""The bounds every file is cleaned under.

Images (JPEG, PNG, WebP, TIFF, HEIF) are cleaned in this process by parsers bounded by
construction: the file is read once (at most `max_image_bytes`), no count or length in it is
trusted beyond the file's own size, every loop moves forward through the file, and no pixel is
ever decoded (a decompression bomb or a 100,000 x 100,000 frame costs what its bytes cost).
Memory is at most about three times the file; time is linear in its size.

Videos are remuxed by FFmpeg (PyAV), a C demuxer, so they run in a child process
(`python -m tutela.media.worker`, started once and reused) under an address-space limit
(`video_memory`) and a wall-clock timeout per video (`video_seconds`): a video over a bound
is refused and the child is killed (the next video starts a new one); a crash of the child
(a segfault in a demuxer) is a refusal of that video, not of the batch.
"""

from __future__ import annotations

import atexit
import json
import resource
import select
import subprocess
import sys
import threading
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


class _Worker:
    """One long-lived `python -m tutela.media.worker` under an address-space limit: a request
    per line in, an answer per line out. A request that takes longer than `video_seconds`
    kills it (the next video starts a new one); so does a crash, reported as a refusal."""

    def __init__(self, limits: Limits) -> None:
        def bound() -> None:  # runs in the child, before Python starts
            resource.setrlimit(resource.RLIMIT_AS, (limits.video_memory, limits.video_memory))

        self.limits = limits
        self.proc = subprocess.Popen([sys.executable, "-m", "tutela.media.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=bound)

    def ask(self, request: dict[str, object]) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return self._failed()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.limits.video_seconds)
        if not ready:
            self.close()
            raise TooLarge(f"the remux took longer than {self.limits.video_seconds:g} s")
        line = self.proc.stdout.readline()
        if not line:
            return self._failed()
        answer: dict[str, object] = json.loads(line)
        return answer

    def _failed(self) -> dict[str, object]:
        self.close()
        assert self.proc.stderr is not None
        tail = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        code = self.proc.returncode
        why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        raise MediaError(f"the remux process failed ({why}): {tail[0][:200]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


_workers: dict[Limits, _Worker] = {}
_lock = threading.Lock()  # one request at a time per worker (the API cleans in a thread pool)


@atexit.register
def _close_workers() -> None:
    for w in _workers.values():
        w.close()


def run_worker(src: Path, dst: Path, strict: bool, limits: Limits) -> list[str]:
    """Remux `src` to `dst` in the bounded worker process; what it removed."""
    with _lock:
        worker = _workers.get(limits)
        if worker is None or not worker.alive:
            worker = _workers[limits] = _Worker(limits)
        answer = worker.ask({"src": str(src), "dst": str(dst), "strict": strict})
    if "error" in answer:
        raise MediaError(str(answer["error"]))
    removed = answer.get("removed")
    return [str(r) for r in removed] if isinstance(removed, list) else []
