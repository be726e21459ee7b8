"""One exception type for everything a user can fix.

The CLI prints a ``SimgenError`` as a single clear message (no traceback unless ``--debug``), so every
message must say *where* (file, field) and *what* (expected vs found).
"""

from __future__ import annotations

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
