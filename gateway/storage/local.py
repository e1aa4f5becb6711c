"""Files under a directory, served by the gateway itself at ``/v1/images/files/{name}``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from gateway.settings import LocalStorageSettings
from gateway.storage import signing
from gateway.storage.base import ImageStore, StoreFailed
from gateway.storage.naming import FILE_NAME

__all__ = ["FILES_PATH", "LocalStore"]

FILES_PATH = "/v1/images/files/"
#: Sidecars hold each file's metadata (model, client key name); the file route never serves them.
_SIDECAR = ".meta.json"


class LocalStore(ImageStore):
    kind = "local"

    def __init__(self, settings: LocalStorageSettings) -> None:
        assert settings.url_secret is not None  # the settings refuse to load without one
        self.root = Path(settings.directory).resolve()
        self._secret = settings.url_secret.reveal().encode()
        self.public_base_url = settings.public_base_url.rstrip("/") if settings.public_base_url else None
        self.ttl = settings.url_ttl_seconds
        self.prefix = settings.prefix
        self.concurrency = settings.concurrency
        self.cleanup_interval = settings.cleanup_interval_seconds
        self.retention_seconds = settings.retention_days * 86400

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path_of(self, name: str) -> Path | None:
        """The file for a name the gateway could have made, else None (never outside the root)."""
        if FILE_NAME.fullmatch(name) is None:
            return None
        return self.root / name

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str, metadata: Mapping[str, str]
    ) -> None:
        path = self.path_of(name)
        if path is None:
            raise StoreFailed(f"not a storable name: {name!r}")
        # Written beside the target and renamed: a reader never sees half a file.
        partial = path.with_name(f".{path.name}.{os.urandom(4).hex()}.part")
        try:
            handle = await asyncio.to_thread(_open_new, partial)
            try:
                async for chunk in chunks:
                    handle.write(chunk)  # a chunk is at most tens of KB: cheaper than a thread hop
            finally:
                handle.close()
            sidecar = json.dumps({"content_type": content_type, **metadata}).encode()
            await asyncio.to_thread(_publish, partial, path, sidecar)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise StoreFailed(f"could not write to the local store ({exc.strerror or type(exc).__name__})") from None
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise

    def url(self, name: str, origin: str | None, now: float) -> str:
        expires = int(now + self.ttl)
        base = self.public_base_url or (origin or "").rstrip("/")
        signature = signing.sign(self._secret, name, expires)
        return f"{base}{FILES_PATH}{quote(name)}?expires={expires}&signature={signature}"

    def check(self, name: str, expires: str, signature: str) -> signing.Verdict:
        return signing.verify(self._secret, name, expires, signature, time.time())

    async def cleanup(self, now: float) -> int:
        return await asyncio.to_thread(_remove_older, self.root, now - self.retention_seconds)


def _open_new(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


def _publish(partial: Path, path: Path, sidecar: bytes) -> None:
    path.with_name(path.name + _SIDECAR).write_bytes(sidecar)
    os.replace(partial, path)


def _remove_older(root: Path, cutoff: float) -> int:
    """Delete files last written before ``cutoff``, and the day folders they leave empty."""
    removed = 0
    if not root.is_dir():
        return 0
    for folder, _dirs, files in os.walk(root, topdown=False):
        for file in files:
            path = Path(folder) / file
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += not file.endswith(_SIDECAR)
        if Path(folder) != root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only succeeds when empty
    return removed
