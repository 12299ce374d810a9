"""Email to parents by SMTP (smtplib), host, port and sender from TUTELA_SMTP_HOST / _PORT / _FROM.
With TUTELA_SMTP_USER (and _PASSWORD) the connection is upgraded by STARTTLS, the server's
certificate checked (TUTELA_SMTP_CAFILE for a private CA), before logging in; TUTELA_SMTP_STARTTLS=1
asks for STARTTLS without a login.

A message that cannot be sent is StoreUnavailable: the caller's transaction rolls back, so no
consent request exists whose link never left. Nothing here logs an address or a token.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from tutela import settings
from tutela.errors import InputError, StoreUnavailable


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class SmtpMailer:
    def __init__(self, host: str | None = None, port: int | None = None, sender: str | None = None):
        self.host, self.port, self.sender = host, port, sender

    def send(self, to: str, subject: str, body: str) -> None:
        host = self.host or settings.text("TUTELA_SMTP_HOST")
        if not host:
            raise InputError("`TUTELA_SMTP_HOST` is not set: consent links are sent by email", where="TUTELA_SMTP_HOST",
                             hint="export TUTELA_SMTP_HOST=mail.example TUTELA_SMTP_PORT=25")
        port = self.port or settings.positive_int("TUTELA_SMTP_PORT", 25)
        sender = self.sender or settings.text("TUTELA_SMTP_FROM") or "consent@tutela.invalid"
        user, password = settings.text("TUTELA_SMTP_USER"), settings.text("TUTELA_SMTP_PASSWORD")
        starttls = bool(user) or settings.text("TUTELA_SMTP_STARTTLS") in ("1", "true", "yes")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg.set_content(body)
        try:
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                if starttls:  # a password never crosses the wire in clear
                    cafile = settings.text("TUTELA_SMTP_CAFILE") or None
                    smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                if user:
                    smtp.login(user, password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise StoreUnavailable(f"cannot send the consent email: {exc.__class__.__name__}",
                                   where="TUTELA_SMTP_HOST") from None
