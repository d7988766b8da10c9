"""``ogcsdl ARGS`` in the test's own process, through the command's real entry point
(:func:`ogcsdl.cli.main`: every subcommand registered, its error handling and exit
codes), without a new interpreter that imports the whole stack again (~2 CPU-s each on
2 cores). Tests that need what only a separate process shows (what GDAL writes to the
C-level stderr, a server's life cycle) still start ``python -m ogcsdl``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from unittest import mock

from click.testing import CliRunner

from ogcsdl.cli import main


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run ``ogcsdl ARGS`` as ``python -m ogcsdl ARGS`` would, in this process. An
    exception the entry point lets through is raised here (a subprocess would print
    its traceback)."""
    returncode = 0
    with (
        CliRunner().isolation() as (stdout, stderr, _output),
        mock.patch.object(sys, "argv", ["ogcsdl", *args]),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
            returncode = code if isinstance(code, int) else int(code is not None)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        return CliResult(returncode, stdout.getvalue().decode(), stderr.getvalue().decode())
