"""Any S3-compatible store, through boto3 (imported only when this store is configured).

boto3 is synchronous: each upload runs in a worker thread (the keeper bounds how many at once).
The image arrives in chunks into a spooled file that stays in memory up to 1 MiB and
spills to disk beyond, so an upload holds a bounded amount of memory whatever its size.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gateway.settings import S3StorageSettings
from gateway.storage.base import ImageStore, StoreFailed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store"]

_SPOOL_BYTES = 1024 * 1024


class S3Store(ImageStore):
    kind = "s3"

    def __init__(self, settings: S3StorageSettings) -> None:
        import boto3
        from botocore.config import Config

        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.concurrency = settings.concurrency
        credentials: dict[str, Any] = {}
        if settings.access_key_id is not None and settings.secret_access_key is not None:
            credentials = {
                "aws_access_key_id": settings.access_key_id.reveal(),
                "aws_secret_access_key": settings.secret_access_key.reveal(),
            }
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=settings.concurrency,
        )
        self.client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint, region_name=settings.region, config=config, **credentials
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r})"

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str, metadata: Mapping[str, str]
    ) -> None:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async for chunk in chunks:
                spool.write(chunk)
            size = spool.tell()
            spool.seek(0)
            # S3 user metadata must be ASCII: names are percent-encoded.
            meta = {key: quote(value, safe="") for key, value in metadata.items()}
            try:
                await asyncio.to_thread(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=name,
                    Body=spool,
                    ContentLength=size,
                    ContentType=content_type,
                    Metadata=meta,
                )
            except Exception as exc:
                raise StoreFailed(_describe(exc)) from None

    def url(self, name: str, origin: str | None, now: float) -> str:
        if self.settings.url == "public":
            assert self.settings.public_base_url is not None
            return f"{self.settings.public_base_url.rstrip('/')}/{quote(name)}"
        # Signed locally (no request): the URL carries the access key id, as every presigned URL does, never the secret.
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=int(self.settings.url_ttl_seconds)
        )

    async def aclose(self) -> None:
        await asyncio.to_thread(self.client.close)


def _describe(exc: Exception) -> str:
    """What went wrong, from the error's code and status only: botocore's messages can quote request details."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return f"the S3 store refused the upload ({error.get('Code', 'error')}, HTTP {status})"
    return f"the S3 store could not be reached ({type(exc).__name__})"
