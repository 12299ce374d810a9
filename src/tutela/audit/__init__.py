"""The audit: every unlawful processing of children's data in an estate, per rule (docs/audit.md).

    findings = run_audit(policy, rulebook, datamap, EstateSource.open(url), as_of)
    found, facts = breached_rows(policy, rulebook, datamap, source, as_of, rules)   # for repair

Modules: `run` (the audit and its findings), `grouping` (an estate's rows grouped by what
decides their lawfulness, as decision requests), `breaches` (from breached groups back to
rows), `signals` (ages stated in free text), `report` (the self-contained HTML report).
"""

from tutela.audit.breaches import Breached, breached_rows
from tutela.audit.run import Finding, Findings, Progress, run_audit

__all__ = ["Breached", "Finding", "Findings", "Progress", "breached_rows", "run_audit"]
