"""A neutral age gate: a birth date in, an experience out, the threshold never shown.

    gate = AgeGate(store=MemoryStore())
    result = gate.submit(session="s-1", client="203.0.113.9", birth_date="2014-05-01", threshold=16)
    result.experience          # "standard" or "restricted"; nothing else about the age

Neutral: the response and every error are the same whatever the threshold is; an error
never says which dates would pass ("enter a valid date"), and a retry after a restricted
result gets the identical restricted answer (the result sticks to the session, see
tutela.age.combine.stick), so the threshold cannot be found by trying dates. Rate limited
per session and per client address with a sliding window kept in bounded memory (the
least recently seen keys are dropped beyond `capacity`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tutela.age.combine import StickyStore, age_on, band_on, stick
from tutela.age.record import MAX_AGE, AgeRecord
from tutela.errors import InputError, TutelaError
from tutela.rulebook import Rulebook

Experience = Literal["standard", "restricted"]
INVALID = "enter a valid date of birth"


class RateLimited(TutelaError):
    """Too many attempts from one session or client; `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__("too many attempts; try again later", hint=f"retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, limit: int, window: float, capacity: int = 50_000,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.capacity, self.clock = limit, window, capacity, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Count one attempt; 0 when allowed, else the seconds until the next is."""
        now = self.clock()
        with self._lock:
            q = self._hits.pop(key, None) or deque()
            while q and q[0] <= now - self.window:
                q.popleft()
            self._hits[key] = q
            while len(self._hits) > self.capacity:
                self._hits.popitem(last=False)
            if len(q) >= self.limit:
                return max(1, int(q[0] + self.window - now + 0.999))
            q.append(now)
            return 0

    def __len__(self) -> int:
        return len(self._hits)


@dataclass(frozen=True)
class GateResult:
    experience: Experience
    record: AgeRecord          # for the caller's own use (defaults, consent); never sent to the user

    def public(self) -> dict[str, str]:
        return {"experience": self.experience}


def parse_birth_date(raw: object, today: dt.date) -> dt.date:
    if not isinstance(raw, str):
        raise InputError(INVALID, where="birth_date", hint="YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise InputError(INVALID, where="birth_date", hint="YYYY-MM-DD") from None
    if day > today or age_on(day, today) > MAX_AGE:
        raise InputError(INVALID, where="birth_date", hint="YYYY-MM-DD")
    return day


class AgeGate:
    def __init__(self, store: StickyStore, per_session: RateLimiter | None = None,
                 per_client: RateLimiter | None = None, clock: Callable[[], dt.datetime] | None = None):
        self.store = store
        self.per_session = RateLimiter(limit=5, window=600) if per_session is None else per_session
        self.per_client = RateLimiter(limit=30, window=600) if per_client is None else per_client
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def submit(self, session: str, client: str, birth_date: object, threshold: int) -> GateResult:
        if not isinstance(session, str) or not 8 <= len(session) <= 200:
            raise InputError("a session id of 8 to 200 characters is needed", where="session")
        for limiter, key in ((self.per_client, f"c:{client}"), (self.per_session, f"s:{session}")):
            wait = limiter.hit(key)
            if wait:
                raise RateLimited(wait)
        now = self.clock()
        today = now.astimezone(dt.UTC).date()
        born = parse_birth_date(birth_date, today)
        years = age_on(born, today)
        typed = AgeRecord(lower=years, upper=years, as_of=today, birth_date=born, method="gate.birth_date",
                          level="self_declared", issuer="age-gate", source="gate", observed_at=now)
        held = stick(self.store, f"gate:{session}", typed, now)
        lower = band_on(held, today)[0]
        return GateResult("standard" if lower >= threshold else "restricted", held)


def consent_age(book: Rulebook, jurisdiction: str, day: dt.date) -> int:
    """The gate's threshold for a jurisdiction: its age of digital consent in force on `day`
    (the rulebook's `digital_consent`, GDPR Art. 8 and its kin)."""
    j = book.jurisdiction(jurisdiction, where="jurisdiction")
    ages = [d.age for d in j.digital_consent
            if d.effective_from <= day and (d.effective_to is None or day < d.effective_to)]
    if not ages:
        raise InputError(f"no age of digital consent in force in `{jurisdiction}` on {day}", where="jurisdiction")
    return max(ages)
