"""The async Glacier client: one typed method per vault-API operation.

An async context manager over an aioboto3 session. Every call goes through
``_call`` so that any botocore/aiohttp failure leaves as a ``GlacierError``.
aioboto3 is imported only when the client opens, to keep start-up fast.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, Self

from glacier_tui.glacier import errors
from glacier_tui.glacier.models import (
    ArchiveCreated,
    DataRetrievalPolicy,
    Job,
    JobOutputInfo,
    MultipartUpload,
    ProvisionedCapacity,
    UploadedPart,
    Vault,
    VaultLock,
    VaultNotifications,
    parse_date,
    parse_int,
)
from glacier_tui.glacier.sanitize import inert

# The plain SHA-256 of an upload body, precomputed in a worker thread. botocore's
# checksum handler skips hashing when the header is present (botocore's
# glacier handlers: add_glacier_checksums).
_content_sha256: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "glacier_content_sha256", default=None
)

RETRY_MODES = ("standard", "adaptive", "legacy")
NOTIFICATION_EVENTS = ("ArchiveRetrievalCompleted", "InventoryRetrievalCompleted")

# Every list loop stops after this many pages with an error, whatever the server says:
# 10,000 pages of 50 (the service's default page size) is 500,000 jobs, uploads or
# vaults, far beyond real vaults (1,000 vaults per region; 10,000 parts per upload).
MAX_PAGES = 10_000
# A page marker is an opaque token of a few hundred bytes; a longer one is not Glacier's.
MAX_MARKER = 4096


def _inject_content_sha256(params: dict[str, Any], **_: Any) -> None:
    sha = _content_sha256.get()
    if sha:
        params["headers"]["x-amz-content-sha256"] = sha


@dataclass(frozen=True)
class ClientOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 5
    account_id: str = "-"
    # A dead endpoint must show within seconds, not after botocore's backoff: TCP connect
    # is given ``connect_timeout``; until the endpoint has answered once, a connection
    # error is tried ``first_contact_attempts`` times and a call without a body must be
    # answered within ``first_contact_timeout``. Every socket read waits at most
    # ``read_timeout`` (long enough for the service to verify a 4 GiB part).
    connect_timeout: float = 3.0
    read_timeout: float = 60.0
    first_contact_timeout: float = 8.0
    first_contact_attempts: int = 2
    max_pool_connections: int = 40
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None

    def resolved_endpoint(self) -> str | None:
        """The endpoint a user sees: explicit, else the service-specific env variable."""
        return (
            self.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_GLACIER")
            or os.environ.get("AWS_ENDPOINT_URL")
            or None
        )


class JobOutputStream:
    """An open GetJobOutput response: headers in ``info``, bytes via ``chunks``."""

    def __init__(self, info: JobOutputInfo, body: Any, operation: str = "GetJobOutput") -> None:
        self.info = info
        self._body = body
        self._operation = operation

    async def chunks(self, size: int = 1 << 20) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk: bytes = await self._body.read(size)
                if not chunk:
                    return
                yield chunk
        except errors.GlacierError:
            raise
        except Exception as exc:
            raise errors.translate(exc, self._operation) from exc

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as aiohttp receives it: each piece as buffered, without joining copies.

        Falls back to :meth:`chunks` when the body is not an aiohttp response.
        """
        reader = getattr(getattr(self._body, "__wrapped__", None), "content", None)
        if reader is None or not hasattr(reader, "readany"):
            async for chunk in self.chunks():
                yield chunk
            return
        try:
            while True:
                piece: bytes = await reader.readany()
                if not piece:
                    return
                yield piece
        except errors.GlacierError:
            raise
        except Exception as exc:
            raise errors.translate(exc, self._operation) from exc

    def widen_read_buffer(self, size: int) -> None:
        """Let aiohttp buffer up to ``size`` bytes before pausing the socket.

        Its default (64 KiB low / 128 KiB high water) pauses and resumes reading
        for every few hundred KiB, which costs more syscalls than copying for
        bulk downloads. Best effort: does nothing when the internals differ.
        """
        reader = getattr(getattr(self._body, "__wrapped__", None), "content", None)
        if reader is not None and hasattr(reader, "_high_water"):
            reader._low_water = size // 2
            reader._high_water = size
            if hasattr(reader, "_high_water_chunks"):
                reader._high_water_chunks = max(4, size // 16)
                reader._low_water_chunks = reader._high_water_chunks // 2

    async def read_all(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def close(self) -> None:
        self._body.close()


class GlacierClient:
    """``async with GlacierClient(ClientOptions(...)) as glacier: await glacier.list_vaults()``."""

    max_pages = MAX_PAGES

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions()
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._answered = False  # has the endpoint sent any HTTP response yet?

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            import aioboto3
            from aiobotocore.config import AioConfig
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise errors.ConfigurationError(f"aioboto3 is not installed: {exc}") from exc
        opts = self.options
        if opts.retry_mode not in RETRY_MODES:
            raise errors.ConfigurationError(
                f"unknown retry mode {opts.retry_mode!r}", hint=f"Use one of {RETRY_MODES}."
            )
        try:
            session = aioboto3.Session(
                profile_name=opts.profile,
                region_name=opts.region,
                aws_access_key_id=opts.access_key,
                aws_secret_access_key=opts.secret_key,
                aws_session_token=opts.session_token,
            )
            retries: Any = {"mode": opts.retry_mode, "max_attempts": opts.max_attempts}
            config = AioConfig(
                retries=retries,
                connect_timeout=opts.connect_timeout,
                read_timeout=opts.read_timeout,
                max_pool_connections=opts.max_pool_connections,
            )
            self._stack = AsyncExitStack()
            self._client = await self._stack.enter_async_context(
                session.client("glacier", endpoint_url=opts.endpoint_url, config=config)
            )
            # Credentials that load lazily (SSO, assume-role, credential_process) load
            # now, so the first call's deadline measures the endpoint, not a login.
            credentials = getattr(self._client._request_signer, "_credentials", None)
            if credentials is not None and hasattr(credentials, "get_frozen_credentials"):
                await credentials.get_frozen_credentials()
        except Exception as exc:
            with suppress(Exception):  # nothing half-open is left behind
                await self.__aexit__(None, None, None)
            raise errors.translate(exc, "Connect") from exc
        events = self._client.meta.events
        for op in ("UploadArchive", "UploadMultipartPart"):
            events.register_first(f"before-call.glacier.{op}", _inject_content_sha256)
        events.register_first("needs-retry.glacier", self._stop_retrying_dead_endpoint)
        events.register("before-parse.glacier", _require_glacier_body)
        return self

    def _stop_retrying_dead_endpoint(
        self, attempts: int, response: Any = None, caught_exception: Any = None, **_: Any
    ) -> None:
        """botocore's retry hook: before the endpoint ever answered, give up early.

        botocore backs off up to 20 s between attempts; against a dead endpoint that
        is a long "Connecting…" for nothing. Raising here ends the retries.
        """
        if response is not None:
            self._answered = True
        if self._answered or caught_exception is None:
            return
        if attempts >= self.options.first_contact_attempts and _is_connection_error(
            caught_exception
        ):
            raise caught_exception

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client = None

    @property
    def endpoint_url(self) -> str:
        if self._client is not None:
            return str(self._client.meta.endpoint_url)
        return self.options.resolved_endpoint() or ""

    @property
    def region(self) -> str:
        if self._client is not None:
            return str(self._client.meta.region_name)
        return self.options.region or ""

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        if self._client is None:
            raise errors.GlacierError("the client is not open", operation=method)
        kwargs.setdefault("accountId", self.options.account_id)
        _check_names(kwargs)
        first_contact = not self._answered
        # Until the endpoint answered once, a call without a body has a deadline: an
        # endpoint that accepts connections and never answers is dead too. (A body may
        # legitimately take long to send; the read timeout bounds those calls.)
        deadline = (
            self.options.first_contact_timeout if first_contact and "body" not in kwargs
            else None
        )
        try:
            async with asyncio.timeout(deadline):
                result: dict[str, Any] = await getattr(self._client, method)(**kwargs)
        except TimeoutError as exc:
            if self._answered or deadline is None:
                raise errors.translate(exc, method) from exc
            raise errors.EndpointNeverAnswered(
                f"no answer from {self.endpoint_url} within {deadline:g} s", operation=method
            ) from None
        except Exception as exc:
            err = errors.translate(exc, method)
            if err.status is not None:
                self._answered = True  # an HTTP error answer: the endpoint is there
            elif first_contact and not self._answered and type(err) is errors.EndpointUnreachable:
                # Not worth the transfer layer's retries either: fail now, clearly.
                err = errors.EndpointNeverAnswered(err.detail, operation=method)
            raise err from exc
        self._answered = True
        return result

    async def _page_docs(self, method: str, *, start: str | None = None,
                         **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """Every page of a paginated call (from the page ``start`` names, a marker the
        service returned earlier), each marker sent once, at most ``max_pages``."""
        marker: str | None = start
        seen: set[str] = set()
        for _ in range(self.max_pages):
            params = dict(kwargs)
            if marker:
                params["marker"] = marker
            page = await self._call(method, **params)
            yield page
            marker = page.get("Marker") or None
            if not marker:
                return
            if not isinstance(marker, str) or len(marker) > MAX_MARKER:
                raise errors.NotGlacierResponse(
                    f"{method} returned a page marker that is not one", operation=method
                )
            # A marker seen twice would loop forever: the listing is broken, not done.
            if marker in seen:
                raise errors.NotGlacierResponse(
                    f"{method} returned the same page marker twice ({inert(marker[:40])}…); "
                    "the listing would never end", operation=method,
                )
            seen.add(marker)
        raise errors.NotGlacierResponse(
            f"{method} still had more pages after {self.max_pages:,}; stopped",
            operation=method,
        )

    async def _pages(
        self, method: str, items_key: str, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async for page in self._page_docs(method, **kwargs):
            items = page.get(items_key) or []
            if not isinstance(items, list):
                raise errors.NotGlacierResponse(f"{method}: {items_key} is not a list",
                                                operation=method)
            for item in items:
                yield item

    # -- vaults ------------------------------------------------------------

    async def iter_vaults(self, page_size: int | None = None) -> AsyncIterator[Vault]:
        extra = {"limit": str(page_size)} if page_size else {}
        async for doc in self._pages("list_vaults", "VaultList", **extra):
            yield Vault.from_api(doc)

    async def list_vaults(self) -> list[Vault]:
        return [v async for v in self.iter_vaults()]

    async def describe_vault(self, vault: str) -> Vault:
        return Vault.from_api(await self._call("describe_vault", vaultName=vault))

    async def create_vault(self, vault: str) -> str:
        return str((await self._call("create_vault", vaultName=vault)).get("location") or "")

    async def delete_vault(self, vault: str) -> None:
        await self._call("delete_vault", vaultName=vault)

    # -- jobs --------------------------------------------------------------

    async def iter_jobs(
        self, vault: str, *, status: str | None = None, completed: bool | None = None
    ) -> AsyncIterator[Job]:
        extra: dict[str, Any] = {}
        if status:
            extra["statuscode"] = status
        if completed is not None:
            extra["completed"] = "true" if completed else "false"
        async for doc in self._pages("list_jobs", "JobList", vaultName=vault, **extra):
            yield Job.from_api(doc)

    async def iter_job_pages(
        self, vault: str, *, start: str | None = None
    ) -> AsyncIterator[tuple[str | None, list[Job]]]:
        """The vault's jobs page by page, from the page ``start`` names (a marker an earlier
        listing returned; None: the first page): (the marker that fetched the page, its
        jobs). Jobs are listed in the order they were initiated."""
        sent = start
        async for page in self._page_docs("list_jobs", start=start, vaultName=vault):
            items = page.get("JobList") or []
            if not isinstance(items, list):
                raise errors.NotGlacierResponse("list_jobs: JobList is not a list",
                                                operation="list_jobs")
            yield sent, [Job.from_api(doc) for doc in items]
            sent = page.get("Marker") or None  # what _page_docs sends for the next page

    async def list_jobs(
        self, vault: str, *, status: str | None = None, completed: bool | None = None
    ) -> list[Job]:
        return [j async for j in self.iter_jobs(vault, status=status, completed=completed)]

    async def describe_job(self, vault: str, job_id: str) -> Job:
        result = await self._call("describe_job", vaultName=vault, jobId=job_id)
        _require(result.get("JobId"), "job id", "DescribeJob")
        return Job.from_api(result)

    async def _initiate_job(self, vault: str, params: dict[str, Any]) -> str:
        if "SNSTopic" in params:
            _check_sns_topic(str(params["SNSTopic"]))
        result = await self._call("initiate_job", vaultName=vault, jobParameters=params)
        return _require(result.get("jobId"), "job id", "InitiateJob")

    async def initiate_archive_retrieval(
        self,
        vault: str,
        archive_id: str,
        *,
        tier: str | None = None,
        byte_range: tuple[int, int] | None = None,
        sns_topic: str | None = None,
        description: str | None = None,
    ) -> str:
        params: dict[str, Any] = {"Type": "archive-retrieval", "ArchiveId": archive_id}
        if tier:
            params["Tier"] = str(tier)
        if byte_range is not None:
            params["RetrievalByteRange"] = f"{byte_range[0]}-{byte_range[1]}"
        if sns_topic:
            params["SNSTopic"] = sns_topic
        if description:
            params["Description"] = description
        return await self._initiate_job(vault, params)

    async def initiate_inventory_retrieval(
        self,
        vault: str,
        *,
        format: str = "JSON",
        start_date: str | None = None,
        end_date: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
        sns_topic: str | None = None,
        description: str | None = None,
    ) -> str:
        params: dict[str, Any] = {"Type": "inventory-retrieval", "Format": format}
        inventory: dict[str, str] = {}
        if start_date:
            inventory["StartDate"] = start_date
        if end_date:
            inventory["EndDate"] = end_date
        if limit is not None:
            inventory["Limit"] = str(limit)
        if marker:
            inventory["Marker"] = marker
        if inventory:
            params["InventoryRetrievalParameters"] = inventory
        if sns_topic:
            params["SNSTopic"] = sns_topic
        if description:
            params["Description"] = description
        return await self._initiate_job(vault, params)

    @asynccontextmanager
    async def job_output(
        self, vault: str, job_id: str, byte_range: tuple[int, int] | None = None
    ) -> AsyncIterator[JobOutputStream]:
        """Open GetJobOutput (optionally one inclusive byte range) as a stream."""
        extra = {"range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        result = await self._call("get_job_output", vaultName=vault, jobId=job_id, **extra)
        info = JobOutputInfo(
            status=int(result.get("status") or 200),
            content_length=parse_int(
                (result.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("content-length")
            ),
            content_range=result.get("contentRange") or None,
            content_type=result.get("contentType") or None,
            checksum=result.get("checksum") or None,
            accept_ranges=result.get("acceptRanges") or None,
            archive_description=result.get("archiveDescription") or None,
        )
        stream = JobOutputStream(info, result["body"])
        try:
            yield stream
        finally:
            stream.close()

    # -- archives and multipart uploads -------------------------------------

    async def _with_content_sha256(
        self, content_sha256: str | None, call: Callable[[], Any]
    ) -> dict[str, Any]:
        token = _content_sha256.set(content_sha256)
        try:
            result: dict[str, Any] = await call()
            return result
        finally:
            _content_sha256.reset(token)

    async def upload_archive(
        self,
        vault: str,
        body: bytes | IO[bytes],
        *,
        description: str | None = None,
        checksum: str | None = None,
        content_sha256: str | None = None,
    ) -> ArchiveCreated:
        """Upload in one request. Pass both hashes to keep hashing off the event loop."""
        kwargs: dict[str, Any] = {"vaultName": vault, "body": body}
        if description:
            kwargs["archiveDescription"] = description
        if checksum:
            kwargs["checksum"] = checksum
        result = await self._with_content_sha256(
            content_sha256, lambda: self._call("upload_archive", **kwargs)
        )
        return ArchiveCreated(
            archive_id=_require(result.get("archiveId"), "archive id", "UploadArchive"),
            checksum=result.get("checksum"),
            location=result.get("location"),
        )

    async def delete_archive(self, vault: str, archive_id: str) -> None:
        await self._call("delete_archive", vaultName=vault, archiveId=archive_id)

    async def initiate_multipart_upload(
        self, vault: str, part_size: int, *, description: str | None = None
    ) -> str:
        kwargs: dict[str, Any] = {"vaultName": vault, "partSize": str(part_size)}
        if description:
            kwargs["archiveDescription"] = description
        result = await self._call("initiate_multipart_upload", **kwargs)
        return _require(result.get("uploadId"), "upload id", "InitiateMultipartUpload")

    async def upload_part(
        self,
        vault: str,
        upload_id: str,
        body: bytes | IO[bytes],
        *,
        start: int,
        length: int,
        checksum: str | None = None,
        content_sha256: str | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "vaultName": vault,
            "uploadId": upload_id,
            "body": body,
            "range": f"bytes {start}-{start + length - 1}/*",
        }
        if checksum:
            kwargs["checksum"] = checksum
        result = await self._with_content_sha256(
            content_sha256, lambda: self._call("upload_multipart_part", **kwargs)
        )
        return str(result.get("checksum") or "")

    async def list_parts(
        self, vault: str, upload_id: str
    ) -> tuple[MultipartUpload, list[UploadedPart]]:
        parts: list[UploadedPart] = []
        header: dict[str, Any] = {}
        async for page in self._page_docs("list_parts", vaultName=vault, uploadId=upload_id):
            header = header or page
            parts.extend(UploadedPart.from_api(p) for p in page.get("Parts") or [])
        return MultipartUpload.from_api(header), parts

    async def list_multipart_uploads(self, vault: str) -> list[MultipartUpload]:
        return [
            MultipartUpload.from_api(doc)
            async for doc in self._pages("list_multipart_uploads", "UploadsList", vaultName=vault)
        ]

    async def complete_multipart_upload(
        self, vault: str, upload_id: str, *, archive_size: int, checksum: str
    ) -> ArchiveCreated:
        result = await self._call(
            "complete_multipart_upload",
            vaultName=vault,
            uploadId=upload_id,
            archiveSize=str(archive_size),
            checksum=checksum,
        )
        return ArchiveCreated(
            archive_id=_require(result.get("archiveId"), "archive id", "CompleteMultipartUpload"),
            checksum=result.get("checksum"),
            location=result.get("location"),
        )

    async def abort_multipart_upload(self, vault: str, upload_id: str) -> None:
        await self._call("abort_multipart_upload", vaultName=vault, uploadId=upload_id)

    # -- vault settings ------------------------------------------------------

    async def list_tags(self, vault: str) -> dict[str, str]:
        result = await self._call("list_tags_for_vault", vaultName=vault)
        return {str(k): str(v) for k, v in (result.get("Tags") or {}).items()}

    async def add_tags(self, vault: str, tags: dict[str, str]) -> None:
        await self._call("add_tags_to_vault", vaultName=vault, Tags=tags)

    async def remove_tags(self, vault: str, keys: list[str]) -> None:
        await self._call("remove_tags_from_vault", vaultName=vault, TagKeys=keys)

    async def get_vault_notifications(self, vault: str) -> VaultNotifications | None:
        """None when the vault has no notification configuration."""
        try:
            result = await self._call("get_vault_notifications", vaultName=vault)
        except errors.ResourceNotFound:
            return None
        config = result.get("vaultNotificationConfig") or {}
        if not config.get("SNSTopic"):
            return None
        return VaultNotifications(
            sns_topic=str(config["SNSTopic"]), events=[str(e) for e in config.get("Events") or []]
        )

    async def set_vault_notifications(self, vault: str, sns_topic: str, events: list[str]) -> None:
        _check_sns_topic(sns_topic)
        await self._call(
            "set_vault_notifications",
            vaultName=vault,
            vaultNotificationConfig={"SNSTopic": sns_topic, "Events": events},
        )

    async def delete_vault_notifications(self, vault: str) -> None:
        await self._call("delete_vault_notifications", vaultName=vault)

    async def get_vault_access_policy(self, vault: str) -> str | None:
        """The policy JSON text, or None when the vault has none."""
        try:
            result = await self._call("get_vault_access_policy", vaultName=vault)
        except errors.ResourceNotFound:
            return None
        policy = (result.get("policy") or {}).get("Policy")
        return str(policy) if policy else None

    async def set_vault_access_policy(self, vault: str, policy: str) -> None:
        _require_json_policy(policy)
        await self._call("set_vault_access_policy", vaultName=vault, policy={"Policy": policy})

    async def delete_vault_access_policy(self, vault: str) -> None:
        await self._call("delete_vault_access_policy", vaultName=vault)

    async def get_vault_lock(self, vault: str) -> VaultLock | None:
        """None when the vault has no lock (not even one in progress)."""
        try:
            result = await self._call("get_vault_lock", vaultName=vault)
        except errors.ResourceNotFound:
            return None
        return VaultLock(
            policy=str(result.get("Policy") or ""),
            state=str(result.get("State") or ""),
            expiration_date=parse_date(result.get("ExpirationDate")),
            creation_date=parse_date(result.get("CreationDate")),
        )

    async def initiate_vault_lock(self, vault: str, policy: str) -> str:
        _require_json_policy(policy)
        result = await self._call("initiate_vault_lock", vaultName=vault, policy={"Policy": policy})
        return str(result.get("lockId") or "")

    async def complete_vault_lock(self, vault: str, lock_id: str) -> None:
        await self._call("complete_vault_lock", vaultName=vault, lockId=lock_id)

    async def abort_vault_lock(self, vault: str) -> None:
        await self._call("abort_vault_lock", vaultName=vault)

    async def get_data_retrieval_policy(self) -> DataRetrievalPolicy:
        result = await self._call("get_data_retrieval_policy")
        return DataRetrievalPolicy.from_api(result.get("Policy"))

    async def set_data_retrieval_policy(
        self, strategy: str, bytes_per_hour: int | None = None
    ) -> None:
        rule: dict[str, Any] = {"Strategy": strategy}
        if bytes_per_hour is not None:
            rule["BytesPerHour"] = bytes_per_hour
        await self._call("set_data_retrieval_policy", Policy={"Rules": [rule]})

    async def list_provisioned_capacity(self) -> list[ProvisionedCapacity]:
        result = await self._call("list_provisioned_capacity")
        return [
            ProvisionedCapacity(
                capacity_id=str(doc.get("CapacityId") or ""),
                start_date=parse_date(doc.get("StartDate")),
                expiration_date=parse_date(doc.get("ExpirationDate")),
            )
            for doc in result.get("ProvisionedCapacityList") or []
        ]

    async def purchase_provisioned_capacity(self) -> str:
        result = await self._call("purchase_provisioned_capacity")
        return str(result.get("capacityId") or "")


def _is_connection_error(exc: BaseException) -> bool:
    from botocore import exceptions as bx

    return isinstance(exc, bx.ConnectionError | bx.HTTPClientError | ConnectionError
                      | TimeoutError)


def _require_glacier_body(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore hook before parsing: a success whose body is not a JSON object is refused.

    botocore would otherwise turn an HTML page into ``{"message": "<html>…"}`` and the
    caller would see an empty listing or a job that "has not finished".
    """
    status = int(response_dict.get("status_code") or 0)
    if status >= 400 or operation_model.has_streaming_output:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes | bytearray):
        return
    headers = response_dict.get("headers") or {}
    if 300 <= status < 400:  # the vault API never redirects
        raise errors.NotGlacierResponse(
            f"{operation_model.name}: HTTP {status} to {inert(headers.get('location', '?'))[:80]}",
            operation=operation_model.name, status=status,
        )
    if not body.strip():
        return  # headers-only answers (UploadArchive, CompleteMultipartUpload, ...)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        kind = inert(headers.get("content-type") or "no content type")[:60]
        start = inert(bytes(body[:60]).decode("utf-8", "replace"))
        raise errors.NotGlacierResponse(
            f"{operation_model.name}: HTTP {status}, {kind}, starting {start!r}",
            operation=operation_model.name, status=status,
        )


def _require(value: object, what: str, operation: str) -> str:
    """An id the service must send, or the error: absent, or not an id's characters
    (it goes into later URLs, onto screens and into scripts' output)."""
    if not isinstance(value, str) or not value:
        raise errors.NotGlacierResponse(f"{operation}: no {what} in the answer",
                                        operation=operation)
    if not _OPAQUE_ID.fullmatch(value):
        raise errors.NotGlacierResponse(
            f"{operation}: the {what} {inert(value[:40])!r} is not one", operation=operation)
    return value


def _require_json_policy(policy: str) -> None:
    """Refuse a policy that is not a JSON object before any request is sent."""
    try:
        doc = json.loads(policy)
    except ValueError as exc:
        raise errors.InvalidParameterValue(
            f"the policy is not valid JSON (line {getattr(exc, 'lineno', '?')}, "
            f"column {getattr(exc, 'colno', '?')}): {exc}",
            code="LocalValidation",
            hint="Fix the JSON and try again; nothing was sent.",
        ) from exc
    if not isinstance(doc, dict):
        raise errors.InvalidParameterValue(
            "the policy must be a JSON object", code="LocalValidation",
            hint="Fix the JSON and try again; nothing was sent.",
        )


# Vault names: 1-255 of a-z, A-Z, 0-9, '_', '-', '.'. Ids (job, archive, upload, lock) are
# opaque but URL-safe; anything with '/', '..', spaces or controls would change the path.
_VAULT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,255}")
_OPAQUE_ID = re.compile(r"[A-Za-z0-9_\-]{1,1024}")
_ID_PARAMS = {"jobId": "job id", "archiveId": "archive id", "uploadId": "upload id",
              "lockId": "lock id"}


def _check_names(kwargs: dict[str, Any]) -> None:
    """Refuse a malformed vault name or id before anything is sent (it would go in the URL)."""
    vault = kwargs.get("vaultName")
    if vault is not None and not _VAULT_NAME.fullmatch(str(vault)):
        raise errors.InvalidParameterValue(
            f"invalid vault name {str(vault)[:80]!r}: use 1-255 letters, digits, '_', '-' or '.'",
            code="LocalValidation", hint="Nothing was sent.",
        )
    for key, label in _ID_PARAMS.items():
        value = kwargs.get(key)
        if value is not None and not _OPAQUE_ID.fullmatch(str(value)):
            raise errors.InvalidParameterValue(
                f"invalid {label} {str(value)[:80]!r}: expected letters, digits, '_' or '-'",
                code="LocalValidation", hint="Nothing was sent.",
            )


_SNS_TOPIC_ARN = re.compile(
    r"arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}"
)


def _check_sns_topic(topic: str) -> None:
    """Refuse an SNS topic that is not a topic ARN (the job would be created regardless)."""
    if not _SNS_TOPIC_ARN.fullmatch(topic):
        raise errors.InvalidParameterValue(
            f"invalid SNS topic {topic[:80]!r}: expected arn:aws:sns:<region>:<account>:<name>",
            code="LocalValidation", hint="Nothing was sent.",
        )
