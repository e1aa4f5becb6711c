"""The configured store, or None for ``kind: none``."""

from __future__ import annotations

from gateway.settings import LocalStorageSettings, S3StorageSettings, StorageSettings
from gateway.storage.base import ImageStore

__all__ = ["build_store"]


def build_store(settings: StorageSettings) -> ImageStore | None:
    if isinstance(settings, LocalStorageSettings):
        from gateway.storage.local import LocalStore

        return LocalStore(settings)
    if isinstance(settings, S3StorageSettings):
        from gateway.storage.s3 import S3Store  # boto3 costs ~50 MB and a second of start: only when used

        return S3Store(settings)
    return None
