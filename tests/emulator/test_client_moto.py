"""The service layer against moto's server: an independent Glacier implementation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.treehash import tree_hash


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def _creds(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _client(url: str) -> GlacierClient:
    return GlacierClient(ClientOptions(endpoint_url=url, region="us-east-1", max_attempts=2))


async def test_vault_lifecycle(moto_url: str) -> None:
    async with _client(moto_url) as glacier:
        await glacier.create_vault("life-a")
        await glacier.create_vault("life-b")
        names = [v.name for v in await glacier.list_vaults()]
        assert {"life-a", "life-b"} <= set(names)
        vault = await glacier.describe_vault("life-a")
        assert vault.name == "life-a"
        assert vault.arn.endswith(":vaults/life-a")
        assert vault.creation_date is not None and vault.creation_date.tzinfo is not None
        await glacier.delete_vault("life-b")
        with pytest.raises(errors.ResourceNotFound):
            await glacier.describe_vault("life-b")


async def test_upload_retrieve_download_delete(moto_url: str) -> None:
    payload = b"glacier-tui " * 1000
    async with _client(moto_url) as glacier:
        await glacier.create_vault("photos")
        created = await glacier.upload_archive("photos", payload, description="a/b.txt",
                                               checksum=tree_hash(payload))
        assert created.archive_id
        assert created.checksum == tree_hash(payload)
        job_id = await glacier.initiate_archive_retrieval(
            "photos", created.archive_id, tier="Expedited"
        )
        job = await glacier.describe_job("photos", job_id)
        assert job.job_id == job_id and job.is_archive_retrieval
        assert job.archive_id == created.archive_id
        assert job.vault_name == "photos"
        listed = await glacier.list_jobs("photos")
        assert job_id in {j.job_id for j in listed}
        for _ in range(100):  # moto finishes Expedited jobs after ~2 s
            job = await glacier.describe_job("photos", job_id)
            if job.completed:
                break
            await asyncio.sleep(0.1)
        assert job.succeeded
        async with glacier.job_output("photos", job_id) as out:
            assert out.info.status == 200
            assert await out.read_all() == payload
        await glacier.delete_archive("photos", created.archive_id)


async def test_inventory_job(moto_url: str) -> None:
    async with _client(moto_url) as glacier:
        await glacier.create_vault("inv")
        job_id = await glacier.initiate_inventory_retrieval("inv")
        job = await glacier.describe_job("inv", job_id)
        assert job.is_inventory_retrieval


async def test_missing_vault_is_resource_not_found(moto_url: str) -> None:
    async with _client(moto_url) as glacier:
        with pytest.raises(errors.ResourceNotFound) as info:
            await glacier.list_jobs("no-such-vault")
    assert info.value.user_message()
