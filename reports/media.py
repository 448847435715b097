"""Where photos live: one small interface, a directory implementation (an object store later).

Names are random (unguessable): the public photo URL is the only key to a photo.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}\.jpg$")


class MediaStore(Protocol):
    def put(self, data: bytes, suffix: str = ".jpg") -> str:
        """Store bytes under a new random name; return the name."""

    def get(self, name: str) -> bytes | None: ...

    def delete(self, name: str) -> None: ...


def new_name(suffix: str = ".jpg") -> str:
    return secrets.token_urlsafe(24) + suffix


def valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name or ""))


class DirectoryMediaStore:
    """Files in one directory, written atomically (temp file + rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if not valid_name(name):
            raise ValueError("invalid media name")
        return self.root / name[:2] / name

    def put(self, data: bytes, suffix: str = ".jpg") -> str:
        name = new_name(suffix)
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name

    def get(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except (OSError, ValueError):
            return None

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink(missing_ok=True)
        except ValueError:
            pass
