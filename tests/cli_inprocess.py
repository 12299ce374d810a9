"""`tutela.cli.main` run in the test's own process: exit code, stdout and stderr (the subprocess
form is `tests/test_cli.py::tutela`). Shared by the CLI tests of several capabilities."""

from __future__ import annotations

import sys

import pytest

from tutela.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tutela", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
