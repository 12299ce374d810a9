"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: the consent tests send
their links through it with smtplib, as production sends them to a mail relay."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Sink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def bodies(self, to: str) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.messages if m["To"] == to]  # type: ignore[union-attr]

    def token(self, to: str) -> str:
        """The token of the last consent link sent to `to`."""
        links = re.findall(r"#([A-Za-z0-9_-]{20,})", "\n".join(self.bodies(to)))
        assert links, f"no consent link was sent to {to}"
        return links[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[Sink]:
    sink = Sink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
