"""`python -m tutela.media.worker`: videos remuxed in their own process, one request per line.

Reads JSON lines {"src", "dst", "strict"} on stdin and answers each with one JSON line:
{"removed": [...]} or {"error": "..."}. Started (and killed when a video takes too long) by
`tutela.media.limits.run_worker` under an address-space limit. Before answering it opens the
written file again with PyAV (a second reader) and refuses when a location key is left."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tutela.media import video
from tutela.media.errors import MediaError


def answer(request: dict[str, object]) -> dict[str, object]:
    src, dst = Path(str(request["src"])), Path(str(request["dst"]))
    try:
        removed = video.remux(src, dst, strict=bool(request.get("strict")))
        left = video.location_keys(dst)
        if left:
            raise MediaError(f"PyAV still reads location from the output: {', '.join(left)}")
        return {"removed": removed}
    except MediaError as exc:
        return {"error": exc.message}


def main() -> int:
    for line in sys.stdin:
        sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
