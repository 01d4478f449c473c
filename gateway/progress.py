"""Progress bars for long CLI work: a rich bar on a terminal, nothing anywhere else.

The services take a ``Bar`` and call ``stage`` and ``update``; the CLI hands them a
``RichBar`` when stderr is a terminal and the silent ``Bar`` otherwise, so a cron job's or a
pipe's output never holds escape codes or carriage returns. The bar goes to stderr and is
removed when done (``transient``), leaving the command's one summary line alone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any


class Bar(AbstractContextManager["Bar"]):
    """The silent bar: every call does nothing (not a terminal, or a caller that needs none)."""

    #: False for the silent bar: a caller may skip measuring what nobody will see
    active = False

    def stage(self, description: str, total: float | None = None) -> None:
        """Start a stage; ``total`` None shows activity without a known end."""

    def update(
        self, completed: float, *, total: float | None = None, description: str | None = None
    ) -> None:
        """How far the current stage is (in its own unit: bytes, records)."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class RichBar(Bar):
    """A rich progress bar on stderr: stage, bar, amount done, elapsed time."""

    active = True

    def __init__(self, unit: str = "") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[done]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._unit = unit
        self._task: Any = None

    def __enter__(self) -> RichBar:
        return self  # shown from the first stage on: a quick command shows nothing at all

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._progress.stop()

    def stage(self, description: str, total: float | None = None) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=total, done="")
        else:
            self._progress.update(self._task, description=description, total=total, completed=0)
            self._progress.update(self._task, done="")

    def update(
        self, completed: float, *, total: float | None = None, description: str | None = None
    ) -> None:
        if self._task is None:
            return
        changes: dict[str, Any] = {"completed": completed}
        if self._unit:
            changes["done"] = f"{int(completed):,} {self._unit}"
        if total is not None:
            changes["total"] = total
        if description is not None:
            changes["description"] = description
        self._progress.update(self._task, **changes)


def bar(enabled: bool, unit: str = "") -> Bar:
    """A ``RichBar`` when ``enabled`` (stderr is a terminal), else the silent ``Bar``."""
    return RichBar(unit) if enabled else Bar()
