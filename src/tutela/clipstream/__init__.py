"""The ClipStream estate: a synthetic short-video platform, written to SQLite, PostgreSQL,
MariaDB or Parquet, with the ground truth of the violations planted in it kept apart.

    from tutela.clipstream import generate, load_truth, AS_OF
    summary = generate("sqlite:///clipstream.db", accounts=2000, seed=7)
    findings = load_truth("sqlite:///clipstream.db")
"""

from tutela.clipstream.cache import write_estate_cache
from tutela.clipstream.generate import AS_OF, generate
from tutela.clipstream.targets import normalize_url, parse_target
from tutela.clipstream.truth import load as load_truth
from tutela.clipstream.truth import load_document

__all__ = ["AS_OF", "generate", "load_document", "load_truth", "normalize_url", "parse_target", "write_estate_cache"]
