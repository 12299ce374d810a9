"""Rights requests of children and parents: access and erasure, with deadlines (docs/rights.md).

    desk = RightsDesk(rulebook, taxonomy, EstateConfig(url), StateStore())

Modules: `desk` (what the CLI and the API call), `lifecycle` (a request's states in the state
store), `fulfil` (one subject's access and erasure across every store), `export` (the access
export as JSON and HTML), `deadlines` (cited response deadlines), `options` (what a request
says beyond its row).
"""

from tutela.rights.deadlines import load_deadlines
from tutela.rights.desk import RightsDesk
from tutela.rights.lifecycle import four_eyes

__all__ = ["RightsDesk", "four_eyes", "load_deadlines"]
