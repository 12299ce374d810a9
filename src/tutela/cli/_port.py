"""A busy port found before any work is done (`tutela serve`, `tutela demo`), not after it."""

from __future__ import annotations

import errno
import socket

from tutela.errors import InputError


def _bindable(host: str, port: int) -> OSError | None:
    """None when `host:port` can be bound the way uvicorn binds it (SO_REUSEADDR), else why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def check_port(host: str, port: int, make_hint: bool = False) -> None:
    """Raise an input error naming the port when it is out of range or cannot be bound."""
    if not 1 <= port <= 65535:
        raise InputError(f"port `{port}` is out of range", where="--port", hint="use a port from 1 to 65535")
    problem = _bindable(host, port)
    if problem is None:
        return
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if _bindable(host, p) is None), None)
    other = f"--port {free}" if free else "--port N"
    how = f"`{other}`" + (f" (or `make demo PORT={free or 'N'}`)" if make_hint else "")
    if problem.errno == errno.EADDRINUSE:
        raise InputError(f"port {port} on {host} is already in use", where="--port",
                         hint=f"stop the program using it, or pick another port: {how}")
    if problem.errno == errno.EACCES:
        raise InputError(f"port {port} on {host} needs privileges to bind", where="--port",
                         hint=f"pick a port above 1023: {how}")
    raise InputError(f"cannot listen on {host}:{port}: {problem.strerror}", where="--host",
                     hint="use an address of this machine, e.g. 127.0.0.1")
