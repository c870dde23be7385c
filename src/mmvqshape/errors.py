"""The one error type a user's mistake raises.

Every layer raises :class:`UserError` for bad input (a file that is missing, malformed or
inconsistent). The CLI turns it into one line on stderr and exit code 2; notebooks see a
normal exception with the same message.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad input from the user: names the file (or argument) and the problem."""

    exit_code = 2

    def __init__(self, where: str | Path | None, problem: str):
        self.where = str(where) if where is not None else None
        self.problem = problem
        super().__init__(f"{self.where}: {problem}" if self.where else problem)
