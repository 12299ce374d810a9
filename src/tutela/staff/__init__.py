"""Staff of the privacy team: accounts and roles, console sessions, the audits the console
keeps, and the office the console's pages call (docs/console.md).

    office = Office(rulebook, EstateConfig(url), audit=..., remediator=..., desk=...)   # via Engine.office

Modules: `roles` (dpo, support, auditor and what each may do), `accounts` (argon2id password
hashes), `sessions` (server-side, hashed ids, expiry), `audits` (stored audits with distinct
counts: the history and the trend), `views` (plain data for pages), `office` (the facade),
`tables` (the state-store tables of migration 0003_console).
"""

from tutela.staff.accounts import MIN_PASSWORD, Account, Accounts
from tutela.staff.office import Office
from tutela.staff.roles import ACTIONS, ROLES, may

__all__ = ["ACTIONS", "MIN_PASSWORD", "ROLES", "Account", "Accounts", "Office", "may"]
