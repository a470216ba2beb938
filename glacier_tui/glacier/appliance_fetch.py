"""Retrieving a Synology index from its ``…_mapping`` vault, then importing it.

The index is an ordinary archive of the mapping vault, so it comes back the usual way:
an archive-retrieval job (hours on AWS), then the verified, resumable download of the
job's output (:func:`~glacier_tui.glacier.downloads.download_job_output`), then
:func:`~glacier_tui.glacier.appliance_index.import_index` into the data vault's names.
Its archive id comes from the mapping vault's cached inventory.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Final

from glacier_tui.glacier import safe_files
from glacier_tui.glacier.appliance_index import IndexImport, import_index
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.downloads import download_job_output
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.store import ArchiveRow, Store
from glacier_tui.glacier.transfer_common import ProgressCallback

__all__ = [
    "INDEX_JOB_DESCRIPTION",
    "download_and_import_index",
    "find_index_job",
    "index_archive",
    "start_index_retrieval",
]

INDEX_JOB_DESCRIPTION: Final = "glacier-tui: Synology index"
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]")


def index_archive(store: Store, mapping_key: str) -> ArchiveRow | None:
    """The index archive of a mapping vault, from its cached inventory (the newest one:
    the vault normally holds exactly one). None without an inventory or an archive."""
    best: ArchiveRow | None = None
    try:
        for row in store.iter_archives(mapping_key):
            if best is None or (row.created or "") > (best.created or ""):
                best = row
    except KeyError:
        return None
    return best


def _whole(job: Job) -> bool:
    size = job.archive_size
    rng = job.retrieval_byte_range
    return not rng or size is None or rng == f"0-{size - 1}"


async def find_index_job(client: GlacierClient, mapping_vault: str, archive_id: str) -> Job | None:
    """A usable retrieval job of the index already there: succeeded first, else running."""
    jobs = [
        j for j in await client.list_jobs(mapping_vault)
        if j.archive_id == archive_id and not j.failed and _whole(j)
    ]
    jobs.sort(key=lambda j: (j.succeeded, j.creation_date is not None, j.creation_date),
              reverse=True)
    return jobs[0] if jobs else None


async def start_index_retrieval(
    client: GlacierClient, mapping_vault: str, archive_id: str, *, tier: str | None = None
) -> Job:
    """Initiate the archive retrieval of the index; returns the new job."""
    job_id = await client.initiate_archive_retrieval(
        mapping_vault, archive_id, tier=tier, description=INDEX_JOB_DESCRIPTION)
    return await client.describe_job(mapping_vault, job_id)


async def download_and_import_index(
    client: GlacierClient,
    store: Store,
    job: Job,
    data_vault_key: str,
    dest_dir: Path,
    *,
    on_progress: ProgressCallback | None = None,
    transfer_id: str | None = None,
) -> IndexImport:
    """Download a succeeded index job into ``dest_dir`` and import it as the names of
    ``data_vault_key``. Raises ``GlacierError`` subclasses (``IndexFormatError`` for a
    bad index: nothing imported)."""
    mapping_vault = job.vault_name
    safe_files.ensure_dir(dest_dir)
    name = _UNSAFE.sub("_", f"{mapping_vault}-{job.job_id[:24]}") + ".sqlite3"
    result = await download_job_output(
        client, mapping_vault, job, dest_dir / name, overwrite=True,
        on_progress=on_progress, transfer_id=transfer_id)
    return await asyncio.to_thread(
        import_index, store, data_vault_key, result.path, origin=mapping_vault)
