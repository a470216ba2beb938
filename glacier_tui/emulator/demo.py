"""Deterministic demo world (--seed-demo): vaults, archives in real tools' description
formats (including hostile ones), jobs in every state, notifications and a retrieval policy.

Everything is anchored at the clock's current time, so a fixed start_time + seed gives the
same IDs, dates and bytes. Total size on disk is a few MB; all sizes are real bytes.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from glacier_tui.emulator.service import Service
from glacier_tui.emulator.store import commit_file
from glacier_tui.emulator.synology import build_synology_pair
from glacier_tui.glacier.treehash import tree_hash

DAY = 86400.0
TOPIC = "arn:aws:sns:us-east-1:123456789012:glacier-restores"

FOLDERS = [
    "photos/2019/summer",
    "photos/2020/winter",
    "documents/taxes",
    "music/flac",
    "projects/thesis",
    "backups/laptop",
]
NAMES = [
    "IMG_{n:04d}.jpg",
    "scan-{n:03d}.pdf",
    "track{n:02d}.flac",
    "notes-{n}.txt",
    "chapter{n}.tex",
    "dump-{n}.tar.gz",
]


def _stamp(t: float) -> str:
    import time

    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def describe(kind: str, path: str, mtime: float) -> str:
    """Archive description in the format a given backup tool writes (mt2, FastGlacier...)."""
    if kind == "mt2":
        return "mt2 " + _b64url(json.dumps({"filename": path, "mtime": _stamp(mtime)}).encode())
    if kind == "mt1":
        doubled = json.dumps({"filename": path, "mtime": _stamp(mtime)}, ensure_ascii=False)
        return "mt1 " + _b64url(doubled.encode("utf-8").decode("latin-1").encode("utf-8"))
    if kind == "fastglacier":
        p = base64.b64encode(path.encode()).decode()
        return f"<m><v>4</v><p>{p}</p><lm>{_stamp(mtime)}</lm></m>"
    if kind == "fastglacier1":
        p = base64.b64encode(path.encode()).decode()
        return f"<ArchiveMetadata><Path>{p}</Path></ArchiveMetadata>"
    if kind == "cloudberry":
        utf7 = path.encode("utf-7").decode("ascii")
        return json.dumps({"Path": utf7, "UTCDateModified": _stamp(mtime), "Flags": 0})
    if kind == "qnap":
        return json.dumps({"path": "/" + path, "type": "file"})
    if kind == "plain":
        return "/home/demo/" + path
    return ""


KINDS = ["mt2", "mt2", "fastglacier", "cloudberry", "plain", "mt1", "fastglacier1", "qnap", ""]


def _put(svc: Service, vault: str, data: bytes, desc: str) -> str:
    """Store an archive directly (the demo is built in-process, without HTTP)."""
    store = svc.store
    with store.tx() as db:
        archive_id = svc.new_id("archive")
        final = store.blob_path("blobs", archive_id)
        tmp = store.tmp_path("demo")
        tmp.write_bytes(data)
        commit_file(tmp, final)
        now = svc.clock.now()
        db.execute(
            "INSERT INTO archives(id, vault, description, creation, size, tree_hash, blob) "
            "VALUES(?,?,?,?,?,?,?)",
            (archive_id, vault, desc, now, len(data), tree_hash(data), store.rel(final)),
        )
        svc._mark_written(db, vault, now)
    return archive_id


def _call(svc: Service, handler: str, **params: Any) -> Any:
    return svc.call(handler, params)


CAMPAIGN_VAULT = "photo-library"
CAMPAIGN_ARCHIVES = 2000


def build_campaign_demo(svc: Service, end: float, count: int = CAMPAIGN_ARCHIVES) -> None:
    """A vault with a few thousand small archives in year/month/event folders, for
    restore campaigns at scale. One transaction, no fsync per blob: the demo is rebuilt
    from scratch whenever its data dir is lost, so durability buys nothing here."""
    rng = random.Random(f"campaign-demo:{svc.cfg.seed}")
    clock = svc.clock
    clock.set(end - 50 * DAY)
    _call(svc, "create_vault", vaultName=CAMPAIGN_VAULT)
    events = ("birthday", "holiday", "garden", "school", "hike", "wedding")
    store = svc.store
    rows = []
    with store.tx() as db:
        for n in range(count):
            year = 2010 + n * 15 // count
            month = 1 + n % 12
            folder = f"{year}/{month:02d}/{events[n % len(events)]}"
            created = end - 50 * DAY + n * 60.0
            desc = describe("mt2", f"{folder}/IMG_{n:05d}.jpg", created - rng.randint(0, 900) * DAY)
            data = rng.randbytes(rng.randint(16, 256))  # small: the demo stays a few MB
            archive_id = svc.new_id("archive")
            final = store.blob_path("blobs", archive_id)
            final.parent.mkdir(parents=True, exist_ok=True)
            final.write_bytes(data)
            rows.append((archive_id, CAMPAIGN_VAULT, desc, created, len(data), tree_hash(data),
                         store.rel(final)))
        db.executemany(
            "INSERT INTO archives(id, vault, description, creation, size, tree_hash, blob) "
            "VALUES(?,?,?,?,?,?,?)",
            rows,
        )
        svc._mark_written(db, CAMPAIGN_VAULT, end - 50 * DAY + count * 60.0)


def build_demo(svc: Service) -> None:
    rng = random.Random(f"demo:{svc.cfg.seed}")
    clock = svc.clock
    end = clock.now()
    saved_delay = svc.cfg.inventory_delay_seconds
    svc.cfg.inventory_delay_seconds = 1e12  # no automatic inventories while building
    try:
        clock.set(end - 60 * DAY)
        for name in ("empty-vault", "family-photos", "media-archive", "scratch"):
            _call(svc, "create_vault", vaultName=name)
        _call(
            svc,
            "add_tags_to_vault",
            vaultName="family-photos",
            Tags={"owner": "demo", "project": "photos"},
        )

        # family-photos: a few hundred small archives in every description format.
        photo_ids: list[str] = []
        for n in range(320):
            clock.set(end - 60 * DAY + n * 9000.0)
            folder = FOLDERS[n % len(FOLDERS)]
            path = f"{folder}/{NAMES[n % len(NAMES)].format(n=n)}"
            if n == 7:
                path = f"{folder}/Müller Straße {n}.pdf"
            kind = KINDS[n % len(KINDS)]
            desc = describe(kind, path, clock.now() - rng.randint(0, 400) * DAY)
            data = rng.randbytes(rng.randint(64, 6000))
            photo_ids.append(_put(svc, "family-photos", data, desc))
        # Hostile descriptions a UI must render safely.
        clock.set(end - 30 * DAY)
        photo_ids.append(_put(svc, "family-photos", b"markup", "[bold red]x[/] [link=file:///]y"))
        photo_ids.append(
            _put(
                svc,
                "family-photos",
                b"traversal",
                describe("mt2", "../../etc/passwd", end - 90 * DAY),
            )
        )
        photo_ids.append(_put(svc, "family-photos", b"comma", 'holiday, "best" \\ of'))

        # media-archive: "large-looking" = many few-hundred-KB archives plus one multipart.
        media_ids: list[str] = []
        for n in range(10):
            clock.set(end - 45 * DAY + n * DAY)
            desc = describe("mt2", f"video/clip-{n:02d}.mp4", clock.now() - 5 * DAY)
            media_ids.append(_put(svc, "media-archive", rng.randbytes(192 * 1024), desc))
        clock.set(end - 20 * DAY)
        big = rng.randbytes(5 * 1024 * 1024 // 2)  # 2.5 MiB: ranged retrievals make sense
        big_id = _put(
            svc,
            "media-archive",
            big,
            describe("fastglacier", "video/wedding-full.mov", end - 400 * DAY),
        )
        clock.set(end - 15 * DAY)
        _put(svc, "scratch", b"temporary", "scratch/tmp.bin")
        build_synology_pair(svc, _put)

        build_campaign_demo(svc, end)

        # Inventories: every written vault was inventoried two days ago.
        clock.set(end - 2 * DAY)
        for name in ("family-photos", "media-archive", "scratch", CAMPAIGN_VAULT):
            svc.rebuild_inventory(name)

        _call(
            svc,
            "set_vault_notifications",
            vaultName="family-photos",
            vaultNotificationConfig={
                "SNSTopic": TOPIC,
                "Events": ["ArchiveRetrievalCompleted", "InventoryRetrievalCompleted"],
            },
        )
        _call(
            svc,
            "set_data_retrieval_policy",
            Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10 * 1024**3}]},
        )

        def job(vault: str, **params: Any) -> str:
            out = _call(svc, "initiate_job", vaultName=vault, jobParameters=params)
            return str(out["jobId"])

        # Expired: finished more than 24 h ago.
        clock.set(end - 3 * DAY)
        job(
            "family-photos",
            Type="archive-retrieval",
            ArchiveId=photo_ids[3],
            Tier="Expedited",
            Description="old restore",
        )
        # Failed.
        clock.set(end - 12 * 3600.0)
        svc.cfg.force_job_failure = True
        try:
            job(
                "media-archive",
                Type="archive-retrieval",
                ArchiveId=media_ids[2],
                Tier="Expedited",
                Description="this one failed",
            )
        finally:
            svc.cfg.force_job_failure = False
        # Succeeded inventory job (JSON) and a CSV one with paging.
        clock.set(end - 10 * 3600.0)
        job("family-photos", Type="inventory-retrieval", Format="JSON", Description="inventory")
        job(
            "family-photos",
            Type="inventory-retrieval",
            Format="CSV",
            InventoryRetrievalParameters={"Limit": "100"},
        )
        # Succeeded archive retrievals with output, one ranged.
        clock.set(end - 2 * 3600.0)
        job(
            "family-photos",
            Type="archive-retrieval",
            ArchiveId=photo_ids[0],
            Tier="Expedited",
            SNSTopic="arn:aws:sns:us-east-1:123456789012:my-job-topic",
        )
        job(
            "media-archive",
            Type="archive-retrieval",
            ArchiveId=big_id,
            Tier="Expedited",
            RetrievalByteRange=f"0-{(2 << 20) - 1}",
            Description="first 2 MiB",
        )
        # An unfinished multipart upload, for ListMultipartUploads.
        _call(
            svc,
            "initiate_multipart_upload",
            vaultName="media-archive",
            partSize=str(1 << 20),
            archiveDescription="mt2 " + _b64url(b'{"filename":"big.iso"}'),
        )
        # Still running.
        clock.set(end - 1800.0)
        job("family-photos", Type="archive-retrieval", ArchiveId=photo_ids[1], Tier="Standard")
        job("media-archive", Type="archive-retrieval", ArchiveId=big_id, Tier="Bulk")
        job("media-archive", Type="inventory-retrieval")
    finally:
        svc.cfg.inventory_delay_seconds = saved_delay
        clock.set(end)
    svc.tick()
    with svc.store.tx():
        svc.store.set_meta("demo", "1")


def inventory_documents(svc: Service) -> list[tuple[str, bytes]]:
    """(vault name, JSON inventory document) of every vault with a generated inventory.

    The same document an inventory-retrieval job of that vault returns now, so the demo
    app can start with every vault's inventory already imported.
    """
    from glacier_tui.emulator.jobs import InvItem, inventory_json

    out: list[tuple[str, bytes]] = []
    with svc.store.tx() as db:
        vaults = db.execute(
            "SELECT name, last_inventory FROM vaults WHERE last_inventory IS NOT NULL "
            "ORDER BY name").fetchall()
        for name, when in vaults:
            items = [InvItem(r[0], r[1], r[2], r[3], r[4]) for r in db.execute(
                "SELECT archive_id, description, creation, size, tree_hash FROM inventory "
                "WHERE vault=?", (name,))]
            out.append((name, inventory_json(svc.arn(name), when, items,
                                             svc.cfg.inventory_date_ms)))
    return out
