"""The ``mmvq`` command. Parses, calls one pipeline function, prints. No logic lives here.

Each sub-module registers its commands on :data:`app`; pipeline imports happen inside the
command functions so that ``mmvq --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from .. import __version__
from ..errors import UserError
from . import analyze, bench, corpus, data, explain, generate, models, report, text, tokenize, train

app = typer.Typer(
    name="mmvq",
    help="MMVQShape: interpretable multimodal activity recognition from wrist accelerometers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmvq {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """MMVQShape command line."""


def _register_all() -> None:
    for module in (data, corpus, generate, text, analyze, train, models, explain, tokenize, bench, report):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user's mistake becomes one line on stderr and exit code 2."""
    try:
        app(args=argv, standalone_mode=True)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
