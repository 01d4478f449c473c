"""Local drop-folder source: the embedded default, and what an SFTP peer looks like on disk.

Files are copied into staging the same way as over SFTP (temporary name, fsync, rename,
size checked against a second stat) so that a file still being written by another program is
never taken half-done. Processed files move to ``archive_dir`` (a subfolder of the drop folder
by default when relative) or, without an archive, are remembered in ``remote_files``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Self

import structlog
from sqlalchemy import Engine

from connectors.config import ConnectorConfig
from connectors.sources.base import (
    Fetched,
    RemoteEntry,
    Retryable,
    Sleep,
    SourceError,
    accept_name,
    clear_stale_parts,
    commit_file,
    inside,
    is_candidate,
    remember,
    remembered,
    retrying,
    temp_path,
    unique_name,
)

log = structlog.get_logger(__name__)


class FolderSource:
    """One pull of one local drop folder (a context manager, for symmetry with SFTP)."""

    def __init__(
        self,
        connector: ConnectorConfig,
        engine: Engine,
        staging: Path,
        *,
        sleep: Sleep = time.sleep,
    ) -> None:
        if connector.path is None:
            raise SourceError(f"connector {connector.name}: no path configured")
        self.c = connector
        self.engine = engine
        self.staging = staging
        self.sleep = sleep
        self.folder = connector.path
        archive = connector.archive_dir
        self.archive = (self.folder / archive) if archive else None

    def __enter__(self) -> Self:
        if not self.folder.is_dir():
            raise SourceError(f"connector {self.c.name}: drop folder {self.folder} does not exist")
        clear_stale_parts(self.staging)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pending(self) -> list[RemoteEntry]:
        """Regular files in the folder (not the archive), oldest first, minus remembered.

        Links and special files (fifos, devices, sockets) are refused with a log line, never
        followed: a link to a system file would be stored, ingested and then archived.
        """
        entries = []
        for item in self.folder.iterdir():
            if not accept_name(self.c.name, item.name) or not is_candidate(item.name):
                continue
            st = item.lstat()
            if stat.S_ISDIR(st.st_mode):
                continue  # the archive subfolder, or any other folder: not a file
            if not stat.S_ISREG(st.st_mode):
                kind = "link" if stat.S_ISLNK(st.st_mode) else "special file"
                log.warning("folder.refused", connector=self.c.name, file=item.name, kind=kind)
                continue
            entries.append(RemoteEntry(str(item), item.name, st.st_size, int(st.st_mtime)))
        entries.sort(key=lambda e: (e.mtime, e.name))
        if self.archive is not None:
            return entries
        return remembered(self.engine, self.c.name, entries)

    def fetch(self, entry: RemoteEntry) -> Fetched:
        label = f"connector {self.c.name}: fetch {entry.name}"
        return retrying(
            label, self.c.attempts, self.c.backoff, self.sleep, lambda _n: self._copy(entry)
        )

    def _copy(self, entry: RemoteEntry) -> Fetched:
        src = Path(entry.path)
        tmp = temp_path(self.staging, entry.name)
        try:
            fd = _open_regular(src)
            digest = hashlib.sha256()
            with os.fdopen(fd, "rb") as fin, open(tmp, "wb") as out:
                before = os.fstat(fin.fileno())
                for block in iter(lambda: fin.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                after = os.fstat(fin.fileno())
            size = tmp.stat().st_size
            if size != before.st_size or (before.st_size, before.st_mtime_ns) != (
                after.st_size,
                after.st_mtime_ns,
            ):
                raise Retryable(f"{entry.name} changed while being read; still being written?")
            final = inside(self.staging, entry.name)
            commit_file(tmp, final)
        except FileNotFoundError:
            raise SourceError(f"connector {self.c.name}: {entry.name} disappeared") from None
        except OSError as exc:  # a full or read-only staging disk: name the file, keep nothing
            raise SourceError(
                f"connector {self.c.name}: cannot copy {entry.name} to {self.staging}: "
                f"{exc.strerror or exc}"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        fixed = RemoteEntry(entry.path, entry.name, size, int(before.st_mtime))
        return Fetched(fixed, final, digest.hexdigest(), size)

    def finish(self, fetched: Fetched) -> None:
        """Move the file into the archive subfolder, or remember it when there is none."""
        if self.archive is None:
            remember(self.engine, self.c.name, fetched)
            return
        src = Path(fetched.entry.path)
        st = src.stat()
        if (st.st_size, int(st.st_mtime)) != (fetched.entry.size, fetched.entry.mtime):
            log.warning("folder.archive_skipped_changed", connector=self.c.name, file=src.name)
            return
        archive = self.archive
        archive.mkdir(parents=True, exist_ok=True)
        name = unique_name(src.name, fetched.sha256, lambda n: (archive / n).exists())
        target = archive / name
        try:
            os.rename(src, target)  # same filesystem: atomic
        except OSError:
            shutil.move(src, target)  # archive on another disk: copy then delete
        log.info("folder.archived", connector=self.c.name, file=src.name, archived_as=name)


def _open_regular(path: Path) -> int:
    """A read descriptor on ``path`` that is neither a link (O_NOFOLLOW) nor a special file
    (a fifo would block the pull forever, a device would be read without end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceError(f"{path.name} became a link; refused") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SourceError(f"{path.name} is not a regular file; refused")
    return fd
