"""`tutela.cli.main` run in the test's own process: exit code, stdout and stderr (the subprocess
form is `tests/test_cli.py::tutela`). Shared by the CLI tests of several capabilities."""

from __future__ import annotations

import sys

import pytest

from tutela.cli import _output, main


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tutela", *args])
    # a terminal of 200 columns whatever runs the tests: a table at 80 folds its long tmp paths
    # mid-name, and how much depends on how long pytest's folder name is that day
    monkeypatch.setattr(_output.console, "width", 200)
    monkeypatch.setattr(_output.err_console, "width", 200)
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
