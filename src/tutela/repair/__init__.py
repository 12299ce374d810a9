"""Repair: remediation of what the audit found, as resumable jobs with receipts (docs/repair.md).

    r = Remediator(policy, rulebook, EstateConfig(url), StateStore())
    r.dry_run(rules, day); r.execute(rules, day); r.resume(job_id)

Modules: `workflow` (findings file -> rows derived now -> plan -> dry run or job), `rows`
(from the audit's breaches back to rows), `actions` (what repairs each row, from
`remediation.yaml`), `jobs` (frozen job plans, checkpoints, failures, receipts).
"""

from tutela.repair.actions import load_repairs
from tutela.repair.jobs import Progress
from tutela.repair.workflow import Remediator, read_findings, remediated_findings, resume_job

__all__ = ["Progress", "Remediator", "load_repairs", "read_findings", "remediated_findings", "resume_job"]
