"""Content-addressed storage of raw bytes, written before anything parses them.

A file lives at ``<data_dir>/raw/<aa>/<bb>/<sha256>``: the same bytes always land on the
same path, so storing twice is harmless, and the path alone proves the content. Writes go to
a temporary name, are fsynced, then renamed, so a crash never leaves a half file under a
valid hash. A write that fails (a full disk, a quota) removes its temporary and says which
file could not be kept and why, in one line (``StoreError``); nothing is parsed then.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from pathlib import Path

from gateway.errors import UserError


class StoreError(UserError):
    """The raw bytes could not be kept; nothing was parsed or applied."""

    exit_code = 5


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_path(raw_dir: Path, sha: str) -> Path:
    return raw_dir / sha[:2] / sha[2:4] / sha


def store(raw_dir: Path, data: bytes, name: str = "") -> tuple[str, Path]:
    """Keep ``data`` (received as ``name``); returns its sha256 and path. Idempotent."""
    sha = sha256_hex(data)
    path = raw_path(raw_dir, sha)
    if path.exists() and path.stat().st_size == len(data):
        return sha, path
    # unique per call: two threads of one process storing the same bytes must not share it
    tmp = path.with_name(f".{sha}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        why = exc.strerror or str(exc)
        code = errno.errorcode.get(exc.errno or 0, "")
        label = name or f"sha256 {sha[:12]}"
        raise StoreError(
            f"cannot keep {label} ({len(data)} bytes) in {raw_dir}: {why}"
            + (f" ({code})" if code else "")
            + "; nothing was parsed or applied"
        ) from None
    return sha, path


def load(raw_dir: Path, sha: str) -> bytes:
    return raw_path(raw_dir, sha).read_bytes()
