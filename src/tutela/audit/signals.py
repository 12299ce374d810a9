"""Age signals: self-declared ages in free text ("I'm 11"), which count as actual knowledge.

The patterns are Presidio pattern recognizers (they work offline, no NLP model needed). The
audit runs the same regular expressions set-based in the query engine (`REGEXES`); the
Presidio path, `stated_ages`, is the per-text reference the tests compare it with.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

MIN_AGE, MAX_AGE = 5, 17
# group 1 is the age; RE2 (DuckDB, Spark) and Python `re` read these the same way
REGEXES = (
    r"(?i)\b(?:i'm|im|i am|age)\s+(\d{1,2})\b",
    r"(?i)\b(\d{1,2})\s*(?:y/o|yo|years old)\b",
)
_RECOGNIZER = PatternRecognizer(
    supported_entity="STATED_AGE",
    name="StatedAgeRecognizer",
    patterns=[Pattern(f"stated_age_{i}", rx.removeprefix("(?i)"), 0.6) for i, rx in enumerate(REGEXES)],
    global_regex_flags=re.IGNORECASE | re.MULTILINE,
)
_DIGITS = re.compile(r"\d{1,2}")


def stated_ages(text: str | None) -> list[int]:
    """Every self-declared age of a child (5-17) found in `text`, by the Presidio recognizer."""
    if not text:
        return []
    found = []
    for r in _RECOGNIZER.analyze(text, entities=["STATED_AGE"]):
        m = _DIGITS.search(text[r.start:r.end])
        if m and MIN_AGE <= int(m.group()) <= MAX_AGE:
            found.append(int(m.group()))
    return found
