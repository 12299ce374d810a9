"""The tamper-evident ledger: append-only, hash-chained entries with signed checkpoints, on
SQLite or PostgreSQL (docs/ledger.md).

    canonical   RFC 8785 canonical JSON (the subset the ledger holds)
    kinds       the fields of each entry kind
    chain       entry bytes and hashes (reference and columnar)
    store       the tables and the writers' lock
    checkpoint  Ed25519-signed heads
    verify      the checks, naming the first bad entry
    core        `Ledger`
"""

from tutela.ledger.canonical import canonical_json
from tutela.ledger.checkpoint import Checkpoint
from tutela.ledger.core import Ledger, trusted_keys
from tutela.ledger.kinds import KINDS
from tutela.ledger.verify import Problem, Report

__all__ = ["KINDS", "Checkpoint", "Ledger", "Problem", "Report", "canonical_json", "trusted_keys"]
