"""The `tinyexit` command: one typer app with a module per command group.

Every command turns a TinyexitError, and a usage error (unknown command or
option, bad value), into one line on stderr and exit code 2, and Ctrl-C into
one line and exit code 130; anything else escaping is a bug and keeps its
traceback. --help is plain text: flags without types, a value option with a
name for its value (`--policy POLICY`).
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

try:  # typer 0.2x vendors click
    from typer._click.exceptions import UsageError
except ImportError:  # older typer uses click itself
    from click.exceptions import UsageError

from ..codegen import __version__
from ..codegen.errors import TinyexitError, did_you_mean
from . import doctor, evaluate, generate, measure, models, simulate



class Commands(TyperGroup):
    """The command group: a misspelled command gets a close match, and --help names option values."""

    def main(self, *args, **kwargs):
        for cmd in [self, *self.commands.values()]:
            for param in cmd.params:
                if param.param_type_name == "option" and not getattr(param, "is_flag", False) and param.metavar is None:
                    param.metavar = param.opts[-1].lstrip("-").upper().replace("-", "_")
        return super().main(*args, **kwargs)

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise UsageError(f"no command '{name}'{did_you_mean(name, self.list_commands(ctx))}", ctx)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=Commands,
    rich_markup_mode=None,
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
app.command("search")(models.search)
app.command("boards")(simulate.boards)
app.command("build")(simulate.build)
app.command("simulate")(simulate.simulate)
app.command("measure")(measure.measure)
app.command("doctor")(doctor.doctor)


def main() -> None:
    try:
        code = app(prog_name="tinyexit", standalone_mode=False)  # usage errors come back here: one line
    except TinyexitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `tinyexit` or a group alone: the help, as click prints it
            print(exc.ctx.get_help())
            sys.exit(exc.exit_code)
        where = f"tinyexit {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.parent else "tinyexit --help"
        message = " ".join(exc.format_message().split()).rstrip(".")
        print(f"error: {message}; see `{where}`", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
