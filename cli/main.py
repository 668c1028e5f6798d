"""The `tinyexit` command: one typer app with a module per command group.

Every command turns a TinyexitError into one line on stderr and exit code 2,
and Ctrl-C into one line and exit code 130; anything else escaping is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from ..codegen import __version__
from ..codegen.errors import TinyexitError
from . import doctor, evaluate, generate, models, simulate

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Early-exit int8 TFLite models to standalone C for Cortex-M, measured in a simulator.",
)


def _show_version(value: bool) -> None:
    if value:
        print(f"tinyexit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit"),
) -> None:
    """Early-exit int8 TFLite models to standalone C for Cortex-M, measured in a simulator."""


app.command("inspect")(generate.inspect)
app.command("generate")(generate.generate_cmd)
app.command("run")(simulate.run)
app.command("calibrate")(evaluate.calibrate)
app.command("compare")(evaluate.compare)
app.command("data")(models.data)
app.command("augment")(models.augment)
app.command("zoo")(models.zoo)
app.command("boards")(simulate.boards)
app.command("build")(simulate.build)
app.command("simulate")(simulate.simulate)
app.command("doctor")(doctor.doctor)


def main() -> None:
    try:
        app()
    except TinyexitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
