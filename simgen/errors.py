"""One exception type for everything a user can fix.

The CLI prints a ``SimgenError`` as a single clear message (no traceback unless ``--debug``), so every
message must say *where* (file, field) and *what* (expected vs found).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class SimgenError(Exception):
    """An error caused by user input (config, paths, data), reported without a traceback."""


class ConfigError(SimgenError):
    """A scene config problem, pointing at a file, a field path and (when known) a line."""

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = problems
        self.source = str(source) if source is not None else "<config>"
        header = f"{self.source}: invalid scene config ({len(problems)} problem{'s' * (len(problems) != 1)})"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def report_errors(command: Callable[[], int], debug: bool, resume_hint: str) -> int:
    """Run a CLI command; every failure becomes one message on stderr and an exit code, no traceback.

    A SimgenError is the user's to fix (exit 1). A file-system error names the path (exit 1). Anything
    else is a bug in simgen: one line that says so (exit 70); ``--debug`` shows the traceback instead.
    """
    try:
        return int(command() or 0)
    except KeyboardInterrupt:
        print(f"interrupted: {resume_hint}", file=sys.stderr)
        return 130
    except SimgenError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except OSError as exc:
        if debug:
            raise
        where = exc.filename or ""
        print(f"error: {where}{': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory (limits: in the config bounds what a scene may ask for)", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in simgen, please report it "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 70
