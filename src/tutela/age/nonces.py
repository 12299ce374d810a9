"""Verifier nonces for presentations: issued at random, single use, expiring, kept in bounded
memory as SHA-256 digests and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class NonceBook:
    def __init__(self, ttl: float = 300, capacity: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.capacity, self.clock = ttl, capacity, clock
        self._live: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(32)
        d = hashlib.sha256(nonce.encode()).digest()
        with self._lock:
            self._live[d.hex()[:16]] = (d, self.clock() + self.ttl)
            while len(self._live) > self.capacity:
                self._live.popitem(last=False)  # the oldest nonce goes first; it is the nearest to expiry
        return nonce

    def consume(self, nonce: str) -> bool:
        """True once for an issued, unexpired nonce; False for unknown, used or expired ones."""
        d = hashlib.sha256(nonce.encode()).digest()
        with self._lock:
            entry = self._live.pop(d.hex()[:16], None)
        return entry is not None and hmac.compare_digest(entry[0], d) and self.clock() < entry[1]
