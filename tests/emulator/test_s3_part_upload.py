"""UploadPart sends a part's buffer as a seekable file read in small pieces (so the
socket's send buffer never holds a second copy of the part): the object S3 assembles
is byte for byte the parts, and a retried part (the file read twice) is whole."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from glacier_tui.glacier.migrate_stream import whole_crc
from glacier_tui.glacier.s3_client import S3Client, S3Options, _PartReader


def test_part_reader_reads_seeks_and_rereads() -> None:
    data = bytearray(os.urandom(300_000))
    reader = _PartReader(data)
    assert len(reader) == 300_000 and reader.seekable()
    first = reader.read(100_000)
    assert first == data[:100_000] and reader.tell() == 100_000
    assert reader.read() == data[100_000:]
    assert reader.seek(0) == 0 and reader.read() == data  # a retry sends it all again
    assert reader.seek(0, os.SEEK_END) == 300_000 and reader.read(10) == b""


def test_multipart_object_is_the_parts(moto_s3_url: str, s3_boto3: Any) -> None:
    from awscrt.checksums import crc64nvme

    s3_boto3.create_bucket(Bucket="parts")
    parts = [bytearray(os.urandom(1 << 20)), bytearray(os.urandom(1 << 20)),
             bytearray(os.urandom(12_345))]

    async def main() -> None:
        async with S3Client(S3Options(endpoint_url=moto_s3_url, region="us-east-1")) as s3:
            upload = await s3.create_upload("parts", "k", storage_class="STANDARD", metadata={})
            done = []
            for n, part in enumerate(parts, 1):
                crc = int(crc64nvme(part))
                etag = await s3.upload_part("parts", "k", upload, n, part, crc)
                done.append((n, etag, crc))
            total = whole_crc([(c, len(p)) for (_, _, c), p in zip(done, parts, strict=True)])
            await s3.complete("parts", "k", upload, done, crc=total,
                              size=sum(len(p) for p in parts))

    asyncio.run(main())
    assert s3_boto3.get_object(Bucket="parts", Key="k")["Body"].read() == b"".join(parts)


def test_part_payload_sends_the_rest_of_the_buffer_in_slices() -> None:
    from aiohttp import payload

    from glacier_tui.glacier import s3_client

    s3_client._register_part_payload()
    data = bytearray(os.urandom(2 * s3_client._SEND_SLICE + 123))
    reader = _PartReader(memoryview(data))
    reader.read(100)  # botocore may have looked at the start
    reader.seek(0)  # ... and rewinds before every attempt
    sent: list[bytes] = []

    class Writer:
        async def write(self, chunk: Any) -> None:
            sent.append(bytes(chunk))

    p = payload.PAYLOAD_REGISTRY.get(reader)
    assert p.size == len(data)
    asyncio.run(p.write(Writer()))  # type: ignore[arg-type]
    assert b"".join(sent) == data and max(map(len, sent)) == s3_client._SEND_SLICE
    assert reader.tell() == len(data)
