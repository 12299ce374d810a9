"""Verifiable parental consent and privacy by default.

    from tutela.consent import ConsentDesk, load_consent
    desk = ConsentDesk(rulebook, StateStore())
    desk.sign_up("child-1", "NL", 12, parent_email="parent@example.org")   # emails a single-use link
    desk.confirm(token)                       # email plus: grants the scopes the method may grant
    desk.policy_grants("child-1")             # the Grant models Engine.decide reads

Modules: config (consent.yaml: scopes, methods and limits, data-lite, defaults, guardian links),
tables (state-store tables, migration 0002_consent), tokens, mailer (SMTP), methods (plug-ins),
webhook (signed provider results), records (GrantRecord), desk (the flows), accounts (settings
and who may loosen them). See docs/consent.md.
"""

from __future__ import annotations

from tutela.consent.accounts import account, change_setting, link_guardian
from tutela.consent.config import ConsentBook, check, load_consent
from tutela.consent.desk import ConsentDesk
from tutela.consent.errors import ConsentRefused
from tutela.consent.mailer import Mailer, SmtpMailer
from tutela.consent.records import GrantRecord
from tutela.consent.webhook import ProviderEvent, event_digest, sign, verify

__all__ = [
    "ConsentBook", "ConsentDesk", "ConsentRefused", "GrantRecord", "Mailer", "ProviderEvent", "SmtpMailer",
    "account", "change_setting", "check", "event_digest", "link_guardian", "load_consent", "sign", "verify",
]
