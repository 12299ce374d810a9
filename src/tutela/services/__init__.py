"""Services built on the core: the demo today; audit, remediation and rights next."""
