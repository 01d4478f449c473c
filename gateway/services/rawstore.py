"""Content-addressed storage of raw bytes, written before anything parses them.

A file lives at ``<data_dir>/raw/<aa>/<bb>/<sha256>``: the same bytes always land on the
same path, so storing twice is harmless, and the path alone proves the content. Writes go to
a temporary name, are fsynced, then renamed, so a crash never leaves a half file under a
valid hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_path(raw_dir: Path, sha: str) -> Path:
    return raw_dir / sha[:2] / sha[2:4] / sha


def store(raw_dir: Path, data: bytes) -> tuple[str, Path]:
    """Keep ``data``; returns its sha256 and path. Idempotent."""
    sha = sha256_hex(data)
    path = raw_path(raw_dir, sha)
    if path.exists() and path.stat().st_size == len(data):
        return sha, path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return sha, path


def load(raw_dir: Path, sha: str) -> bytes:
    return raw_path(raw_dir, sha).read_bytes()
