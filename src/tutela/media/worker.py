"""`python -m tutela.media.worker SRC DST strict|lenient`: one video remuxed, in its own process.

Prints one JSON line: {"removed": [...]} or {"error": "..."}. Started by
`tutela.media.limits.run_worker` under memory, CPU and time limits. Before answering it opens
the written file again with PyAV (a second reader) and refuses when a location key is left."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tutela.media import video
from tutela.media.errors import MediaError


def main(argv: list[str]) -> int:
    src, dst, mode = Path(argv[0]), Path(argv[1]), argv[2]
    try:
        removed = video.remux(src, dst, strict=mode == "strict")
        left = video.location_keys(dst)
        if left:
            raise MediaError(f"PyAV still reads location from the output: {', '.join(left)}")
        print(json.dumps({"removed": removed}))
    except MediaError as exc:
        print(json.dumps({"error": exc.message}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
