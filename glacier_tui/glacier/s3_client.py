"""The async S3 client of vault -> S3 migration: the few calls it needs, typed.

Checksums are computed by the caller (CRC64NVME with awscrt) and sent as values, on
a client with ``payload_signing_enabled=False``: botocore then sends
``UNSIGNED-PAYLOAD`` and one ``x-amz-checksum-crc64nvme`` header, and does no hashing
of its own (no SHA-256 of every part; its default would also add CRC32).

The endpoint: ``endpoint_url`` when given (``--s3-endpoint-url``), else whatever
botocore resolves for S3 (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, a profile's
``services`` section, then AWS). The app's Glacier ``--endpoint-url`` never applies here.
"""

from __future__ import annotations

import base64
import io
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Final, Self

from glacier_tui.glacier import errors

__all__ = ["ObjectHead", "ObjectWritten", "S3Client", "S3Options", "b64_crc", "crc_from_b64"]

FULL_OBJECT: Final = "FULL_OBJECT"


def b64_crc(crc: int) -> str:
    """The wire form of a CRC64NVME: base64 of the 8-byte big-endian value."""
    return base64.b64encode(crc.to_bytes(8, "big")).decode("ascii")


def crc_from_b64(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


@dataclass(frozen=True)
class S3Options:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None  # None: botocore's own resolution for S3
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    max_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_pool_connections: int = 40


@dataclass(frozen=True)
class ObjectHead:
    """What HEAD (with ``ChecksumMode=ENABLED``) says about an object."""

    size: int
    crc64nvme: str | None  # base64, as S3 returns it
    checksum_type: str | None
    etag: str
    version_id: str | None
    storage_class: str  # STANDARD when S3 omits it
    metadata: dict[str, str]


@dataclass(frozen=True)
class ObjectWritten:
    etag: str
    version_id: str | None


class ObjectExists(errors.GlacierError):
    """``IfNoneMatch="*"`` refused the write: an object is already at the key."""

    codes = ("PreconditionFailed",)
    summary = "An object is already at that key."


def _is_not_found(exc: errors.GlacierError) -> bool:
    return exc.status == 404 or exc.code in ("404", "NoSuchKey", "NotFound")


class S3Client:
    """``async with S3Client(S3Options(...)) as s3: await s3.head(bucket, key)``."""

    def __init__(self, options: S3Options | None = None) -> None:
        self.options = options or S3Options()
        self._stack: AsyncExitStack | None = None
        self._client: Any = None

    async def __aenter__(self) -> Self:
        import aioboto3
        from aiobotocore.config import AioConfig

        opts = self.options
        _register_part_payload()
        try:
            session = aioboto3.Session(
                profile_name=opts.profile, region_name=opts.region,
                aws_access_key_id=opts.access_key, aws_secret_access_key=opts.secret_key,
                aws_session_token=opts.session_token,
            )
            config = AioConfig(
                retries={"mode": "standard", "max_attempts": opts.max_attempts},
                connect_timeout=opts.connect_timeout, read_timeout=opts.read_timeout,
                max_pool_connections=opts.max_pool_connections,
                s3={"payload_signing_enabled": False},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            self._stack = AsyncExitStack()
            # endpoint_url=None lets botocore resolve the S3 endpoint itself
            # (AWS_ENDPOINT_URL_S3, the profile's services section, AWS).
            creator: Any = session.client("s3", config=config, endpoint_url=opts.endpoint_url)
            self._client = await self._stack.enter_async_context(creator)
        except Exception as exc:
            raise errors.translate(exc, "Connect") from exc
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client = None

    @property
    def endpoint_url(self) -> str:
        return str(self._client.meta.endpoint_url) if self._client is not None else ""

    @property
    def raw(self) -> Any:
        """The aiobotocore client (tests register ``before-call`` handlers on it)."""
        return self._client

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        if self._client is None:
            raise errors.GlacierError("the S3 client is not open", operation=method)
        try:
            result: dict[str, Any] = await getattr(self._client, method)(**kwargs)
        except Exception as exc:
            err = errors.translate(exc, method)
            if err.code == "PreconditionFailed" or err.status == 412:
                raise ObjectExists(err.detail, code=err.code, status=412,
                                   operation=method) from exc
            raise err from exc
        return result

    # -- buckets and objects -----------------------------------------------------------

    async def bucket_region(self, bucket: str) -> str | None:
        """The bucket's region (HeadBucket ``BucketRegion``); raises if it cannot be read."""
        result = await self._call("head_bucket", Bucket=bucket)
        region = result.get("BucketRegion") or (
            (result.get("ResponseMetadata") or {}).get("HTTPHeaders", {})
            .get("x-amz-bucket-region"))
        return str(region) if region else None

    async def create_bucket(self, bucket: str) -> None:
        await self._call("create_bucket", Bucket=bucket)

    async def head(self, bucket: str, key: str) -> ObjectHead | None:
        """HEAD with checksums; ``None`` when no object is at the key."""
        try:
            r = await self._call("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except errors.GlacierError as exc:
            if _is_not_found(exc):
                return None
            raise
        return ObjectHead(
            size=int(r.get("ContentLength") or 0), crc64nvme=r.get("ChecksumCRC64NVME"),
            checksum_type=r.get("ChecksumType"), etag=str(r.get("ETag") or ""),
            version_id=r.get("VersionId"), storage_class=str(r.get("StorageClass") or "STANDARD"),
            metadata={str(k).lower(): str(v) for k, v in (r.get("Metadata") or {}).items()},
        )

    async def put_object(self, bucket: str, key: str, body: bytes | bytearray | memoryview, *,
                         crc: int, storage_class: str, metadata: dict[str, str]
                         ) -> ObjectWritten:
        r = await self._call(
            "put_object", Bucket=bucket, Key=key, Body=_PartReader(body),
            ContentLength=len(body), ChecksumCRC64NVME=b64_crc(crc),
            # Names the algorithm too (moto stores a PutObject's checksum only then); with
            # the value given, botocore computes nothing itself.
            ChecksumAlgorithm="CRC64NVME",
            StorageClass=storage_class, Metadata=metadata, IfNoneMatch="*",
        )
        return ObjectWritten(str(r.get("ETag") or ""), r.get("VersionId"))

    # -- multipart ---------------------------------------------------------------------

    async def create_upload(self, bucket: str, key: str, *, storage_class: str,
                            metadata: dict[str, str]) -> str:
        r = await self._call(
            "create_multipart_upload", Bucket=bucket, Key=key, StorageClass=storage_class,
            Metadata=metadata, ChecksumAlgorithm="CRC64NVME", ChecksumType=FULL_OBJECT,
        )
        return str(r["UploadId"])

    async def upload_part(self, bucket: str, key: str, upload_id: str, number: int,
                          body: bytes | bytearray | memoryview, crc: int) -> str:
        r = await self._call(
            "upload_part", Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
            Body=_PartReader(body), ContentLength=len(body), ChecksumCRC64NVME=b64_crc(crc),
        )
        return str(r.get("ETag") or "")

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, int] | None:
        """Part number -> size of an open upload; ``None`` when the upload is gone."""
        parts: dict[int, int] = {}
        marker = 0
        while True:
            try:
                r = await self._call("list_parts", Bucket=bucket, Key=key, UploadId=upload_id,
                                     PartNumberMarker=marker)
            except errors.GlacierError as exc:
                if exc.code == "NoSuchUpload" or exc.status == 404:
                    return None
                raise
            for p in r.get("Parts") or []:
                parts[int(p["PartNumber"])] = int(p.get("Size") or 0)
            if not r.get("IsTruncated"):
                return parts
            marker = int(r.get("NextPartNumberMarker") or 0)

    async def complete(self, bucket: str, key: str, upload_id: str,
                       parts: list[tuple[int, str, int]], *, crc: int,
                       size: int) -> ObjectWritten:
        """Complete with the FULL_OBJECT CRC64NVME; ``parts`` = (number, ETag, part CRC)."""
        r = await self._call(
            "complete_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": n, "ETag": etag, "ChecksumCRC64NVME": b64_crc(c)}
                for n, etag, c in parts
            ]},
            ChecksumCRC64NVME=b64_crc(crc), ChecksumType=FULL_OBJECT, MpuObjectSize=size,
            IfNoneMatch="*",
        )
        return ObjectWritten(str(r.get("ETag") or ""), r.get("VersionId"))

    async def abort(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            await self._call("abort_multipart_upload", Bucket=bucket, Key=key,
                             UploadId=upload_id)
        except errors.GlacierError as exc:
            if exc.code != "NoSuchUpload" and exc.status != 404:
                raise


class _PartReader(io.RawIOBase):
    """A part's buffer as a seekable file (what botocore needs to rewind a retry).

    aiohttp sends it through :class:`_PartPayload`: slices of the buffer itself, each
    written when the socket has taken the one before. aiohttp's own file payload would
    read it in 256 KiB copies through a thread-pool hop each; handed bytes, asyncio's
    transport would copy whatever the socket does not take at once (most of a part on
    a slow link) into its own buffer, doubling the memory of every part in flight."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, min(len(self._view), base + offset))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        buffer[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def take_rest(self) -> memoryview:
        """The unread rest, without copying; the reader is then at its end."""
        rest = self._view[self._pos:]
        self._pos = len(self._view)
        return rest

    def __len__(self) -> int:
        return len(self._view)


_SEND_SLICE: Final = 1 << 20  # what the transport may have to buffer, per part in flight
_payload_registered = False


def _register_part_payload() -> None:
    """Teach aiohttp to send a :class:`_PartReader` as :class:`_PartPayload` (aiobotocore
    hands it the reader wrapped in a proxy, which passes ``isinstance``)."""
    global _payload_registered
    if _payload_registered:
        return
    _payload_registered = True
    try:
        from aiohttp import payload
    except ImportError:  # pragma: no cover - aiohttp is a dependency of aiobotocore
        return

    class _PartPayload(payload.Payload):
        def __init__(self, value: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("content_type", "application/octet-stream")
            super().__init__(value, *args, **kwargs)
            self._size = len(value) - value.tell()

        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            return bytes(self._value.take_rest()).decode(encoding, errors)

        async def write(self, writer: Any) -> None:
            await self.write_with_length(writer, None)

        async def write_with_length(self, writer: Any, content_length: int | None) -> None:
            rest = self._value.take_rest()
            if content_length is not None:
                rest = rest[:content_length]
            for at in range(0, len(rest), _SEND_SLICE):
                await writer.write(rest[at:at + _SEND_SLICE])  # drains as it goes

    payload.PAYLOAD_REGISTRY.register(_PartPayload, _PartReader, order=payload.Order.try_first)
