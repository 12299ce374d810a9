"""Age assurance: signals in, one normalised record per subject and source out.

    from tutela.age import read_signal, combine, AgeGate, MemoryStore
    record = read_signal(payload, "google")           # AgeRecord, or InputError naming the field
    best = combine([r1, r2], now)                       # lowest category wins (Utah §13-76-202(3))
    gate = AgeGate(MemoryStore()); gate.submit(session, client, "2014-05-01", threshold=16)

Modules: levels (the five levels and the rulebook map), record (AgeRecord), requirements
(age_assurance.yaml: levels each act needs, signal sources and their legal status),
signals/* (one reader per signal), combine (roll-over, lowest wins, sticky), store (memory
and SQL stores), gate (the neutral age gate). See docs/age.md.
"""

from __future__ import annotations

from tutela.age.combine import Combined, band_on, combine, stick
from tutela.age.gate import AgeGate, GateResult, RateLimited, RateLimiter
from tutela.age.levels import LEVELS, Level, at_least, to_rulebook
from tutela.age.record import AgeRecord, Basis, category
from tutela.age.requirements import AgeAssurance, AgeProblem, check, load_age_requirements
from tutela.age.signals import READERS, Context, read_signal
from tutela.age.store import MemoryStore, SqlStore

__all__ = [
    "LEVELS", "READERS", "AgeAssurance", "AgeGate", "AgeProblem", "AgeRecord", "Basis", "Combined", "Context",
    "GateResult", "Level", "MemoryStore", "RateLimited", "RateLimiter", "SqlStore", "at_least", "band_on",
    "category", "check", "combine", "load_age_requirements", "read_signal", "stick", "to_rulebook",
]
