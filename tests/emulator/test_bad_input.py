"""Bad-input catalogue: each case asserts the user-facing message and that nothing changed.

CLI cases run ``cli.main([...])`` (what users see, via capsys) against one emulator;
before and after each, the files under the case's directory and the emulator's
successful mutating requests are snapshotted and must be equal.
"""

from __future__ import annotations

import errno
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from glacier_tui.glacier import errors, transfer_files
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.paths import UnsafePathError, safe_download_path, sanitize_relative_name
from glacier_tui.ui.restore_model import parse_byte_range, validate_description, validate_sns_topic

MUTATING_OPS = {
    "CreateVault", "DeleteVault", "InitiateJob", "UploadArchive", "DeleteArchive",
    "InitiateMultipartUpload", "UploadMultipartPart", "CompleteMultipartUpload",
    "AbortMultipartUpload", "AddTagsToVault", "RemoveTagsFromVault", "SetVaultNotifications",
    "DeleteVaultNotifications", "SetVaultAccessPolicy", "DeleteVaultAccessPolicy",
    "InitiateVaultLock", "CompleteVaultLock", "AbortVaultLock", "SetDataRetrievalPolicy",
    "PurchaseProvisionedCapacity",
}
DATA = b"hello world, glacier"


class _Stub(BaseHTTPRequestHandler):
    """Answers every request with one fixed AWS error (code from the server's attribute)."""

    def _answer(self) -> None:
        code: str = self.server.error_code  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"code": code, "message": f"stub {code}", "type": "Client"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class World:
    url: str
    emu: Any
    job: str
    expired: str
    stubs: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import boto3

    from glacier_tui.emulator import EmulatorThread
    from tests.conftest import emulator_config

    base = tmp_path_factory.mktemp("bad-input")
    servers = []
    stubs: dict[str, str] = {}
    for code in ("ExpiredTokenException", "RequestTimeTooSkewed"):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        srv.error_code = code  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        stubs[code] = f"http://127.0.0.1:{srv.server_address[1]}"
    with EmulatorThread(emulator_config(base / "emu")) as emu:
        b = boto3.client("glacier", endpoint_url=emu.url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")
        b.create_vault(vaultName="v1")
        archive = b.upload_archive(vaultName="v1", body=DATA,
                                   archiveDescription="evil/file.txt")["archiveId"]
        params: Any = {"Type": "archive-retrieval", "ArchiveId": archive, "Tier": "Expedited"}
        expired = b.initiate_job(vaultName="v1", jobParameters=params)["jobId"]
        emu.advance(25 * 3600)
        job = b.initiate_job(vaultName="v1", jobParameters=params)["jobId"]
        emu.advance(6 * 3600)
        yield World(emu.url, emu, job, expired, stubs)
    for srv in servers:
        srv.shutdown()


def _mutations(emu: Any) -> list[tuple[str, int]]:
    return [(e["operation"], e["status"]) for e in emu.requests()
            if e.get("operation") in MUTATING_OPS and int(e.get("status") or 0) < 300]


def _files(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def _listing(db: Path) -> str:
    from glacier_tui.glacier.store import Store

    store = Store(db)
    try:
        return repr(store.search("v1", "x"))
    finally:
        store.close()


Setup = Callable[[Path, pytest.MonkeyPatch], None]


def _write(name: str, text: str) -> Setup:
    def setup(work: Path, mp: pytest.MonkeyPatch) -> None:
        (work / name).write_text(text)
    return setup


def _env(**values: str | None) -> Setup:
    def setup(work: Path, mp: pytest.MonkeyPatch) -> None:
        for key, value in values.items():
            if value is None:
                mp.delenv(key, raising=False)
            else:
                mp.setenv(key, value)
    return setup


def _enospc(work: Path, mp: pytest.MonkeyPatch) -> None:
    def full(fd: int, buf: Any, offset: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    mp.setattr(transfer_files, "_pwrite_all", full)
    (work / "dl").mkdir()


def _symlink_out(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "outside").mkdir()
    (work / "dl").mkdir()
    (work / "dl" / "evil").symlink_to(work / "outside")


def _existing(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "target.bin").write_bytes(b"precious")


def _files_in(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "a.txt").write_text("a")
    (work / "empty").mkdir()
    (work / "notadir").write_text("x")


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    rc: int
    message: str
    setup: Setup | None = None
    keeps_partial: bool = False  # a resumable <name>.part (+ journal) may stay, nothing else
    store: bool = False  # a store with a good inventory exists; its contents must not change


E = ("--endpoint-url", "{url}", "--region", "us-east-1")
DL = ("download", *E, "--vault", "v1", "--job", "{job}")
UP = ("upload", *E, "--vault", "v1")
INV = ("inventory", "import", "{w}/inv", "--vault", "v1", "--db", "{w}/store.db", "--quiet")
INV_KEPT = "— previous inventory kept"

CLI_CASES = [
    # CLI flags
    Case("unknown-flag", ("--bogus",), 2, "glacier-tui: error: unrecognized arguments: --bogus"),
    Case("download-missing-job", ("download", *E, "--vault", "v1"), 2,
         "the following arguments are required: --job"),
    Case("concurrency-zero", (*DL, "--concurrency", "0"), 2,
         "argument --concurrency: must be at least 1, got 0"),
    Case("concurrency-text", (*DL, "--concurrency", "abc"), 2,
         "argument --concurrency: expected a whole number, got 'abc'"),
    Case("concurrency-huge", (*DL, "--concurrency", "999"), 2,
         "--concurrency must be between 1 and 32, got 999"),
    Case("segment-not-pow2", (*DL, "--segment-size", "3"), 2,
         "--segment-size must be a power of two (1, 2, 4, ... 4096), got 3"),
    Case("segment-too-big", (*DL, "--segment-size", "8192"), 2,
         "--segment-size must be at most 4096 MiB, got 8192"),
    Case("part-size-not-pow2", (*UP, "--part-size", "3", "{w}/a.txt"), 2,
         "--part-size must be a power of two (1, 2, 4, ... 4096), got 3", _files_in),
    Case("upload-missing-path", (*UP, "{w}/missing"), 2, "no such file or folder: {w}/missing"),
    Case("upload-empty-folder", (*UP, "{w}/empty"), 2,
         "nothing to upload: the folders are empty", _files_in),
    Case("upload-readonly", ("upload", *E, "--readonly", "--vault", "v1", "{w}/a.txt"), 2,
         "uploads are refused in read-only mode", _files_in),
    # config values
    Case("config-missing", ("config", "show", "--config", "{w}/nope.toml"), 2,
         "config file {w}/nope.toml: not found"),
    Case("config-malformed", ("config", "show", "--config", "{w}/c.toml"), 2,
         "malformed TOML: Invalid value", _write("c.toml", "x = [\n")),
    Case("config-unknown-key", ("config", "show", "--config", "{w}/c.toml"), 2,
         "unknown key 'foo'; known keys: profile, region", _write("c.toml", "foo = 1\n")),
    Case("config-negative-poll", ("config", "show", "--config", "{w}/c.toml"), 2,
         "poll_interval: Input should be greater than 0; got -1",
         _write("c.toml", "poll_interval = -1\n")),
    Case("config-part-size", ("config", "show", "--config", "{w}/c.toml"), 2,
         "part_size_mib: must be a power of two (1, 2, 4, ... 4096); got 3",
         _write("c.toml", "part_size_mib = 3\n")),
    Case("config-tier", ("config", "show", "--config", "{w}/c.toml"), 2,
         "default_tier: Input should be 'Expedited', 'Standard' or 'Bulk'; got 'Fast'",
         _write("c.toml", "default_tier = 'Fast'\n")),
    Case("config-retry-mode", ("config", "show", "--config", "{w}/c.toml"), 2,
         "allowed: standard, adaptive, legacy", _write("c.toml", "retry_mode = 'yolo'\n")),
    Case("env-not-int", ("config", "show"), 2,
         "environment GLACIER_TUI_MAX_ATTEMPTS: max_attempts: Input should be a valid integer",
         _env(GLACIER_TUI_MAX_ATTEMPTS="zero")),
    Case("env-unknown", ("config", "show"), 2,
         "environment GLACIER_TUI_BOGUS: unknown setting", _env(GLACIER_TUI_BOGUS="1")),
    # vault names, job ids
    Case("vault-space", ("download", *E, "--vault", "bad name!", "--job", "{job}"), 1,
         "invalid vault name 'bad name!'"),
    Case("vault-slash-upload", ("upload", *E, "--vault", "../v1", "{w}/a.txt"), 1,
         "invalid vault name '../v1'", _files_in),
    Case("vault-too-long", ("download", *E, "--vault", "v" * 256, "--job", "{job}"), 1,
         "invalid vault name"),
    Case("vault-missing", ("download", *E, "--vault", "nope", "--job", "{job}"), 1,
         "Not found: Vault not found"),
    Case("job-unknown", ("download", *E, "--vault", "v1", "--job", "JOBNOPE"), 1,
         "The job or its output no longer exists: The job ID was not found: JOBNOPE"),
    Case("job-traversal", ("download", *E, "--vault", "v1", "--job", "../../tags"), 1,
         "invalid job id '../../tags'"),
    # targets and disks
    Case("target-exists", (*DL, "-o", "{w}/target.bin"), 1,
         "The target file already exists: {w}/target.bin", _existing),
    Case("download-dir-is-file", (*DL, "-o", "{w}/notadir/"), 1, "notadir", _files_in),
    Case("disk-full", (*DL, "-o", "{w}/dl/"), 1,
         "Not enough disk space: the disk filled up while writing", _enospc, keeps_partial=True),
    Case("symlink-escape", (*DL, "-o", "{w}/dl/"), 1,
         "would be written outside", _symlink_out),
    Case("expired-output", ("download", *E, "--vault", "v1", "--job", "{expired}",
                            "-o", "{w}/"), 1, "Job output stays downloadable for about 24 hours"),
    # credentials, endpoint, clock
    Case("no-credentials", (*DL, "-o", "{w}/"), 1, "No AWS credentials were found.",
         _env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_SESSION_TOKEN=None)),
    Case("expired-token", ("download", "--endpoint-url", "{ExpiredTokenException}",
                           "--region", "us-east-1", "--vault", "v1", "--job", "{job}",
                           "-o", "{w}/"), 1,
         "The AWS session token has expired: stub ExpiredTokenException Refresh the "
         "credentials"),
    Case("clock-skew", ("download", "--endpoint-url", "{RequestTimeTooSkewed}",
                        "--region", "us-east-1", "--vault", "v1", "--job", "{job}",
                        "-o", "{w}/"), 1, "Correct this machine's clock (enable NTP)"),
    Case("endpoint-down", ("download", "--endpoint-url", "http://127.0.0.1:9", "--region",
                           "us-east-1", "--vault", "v1", "--job", "{job}", "-o", "{w}/"), 1,
         "The Glacier endpoint cannot be reached"),
    # inventories
    Case("inventory-missing", ("inventory", "import", "{w}/none.json", "--vault", "v1", "--db",
                               "{w}/store.db"), 2, "no such file: {w}/none.json"),
    Case("inventory-truncated", INV, 1,
         "inventory JSON is truncated (unexpected end of file)",
         _write("inv", '{"VaultARN":"a","ArchiveList":[{"ArchiveId":"a","Size":1,"SHA'),
         store=True),
    Case("inventory-not-object", INV, 1, f"inventory JSON is not an object (at byte 0) {INV_KEPT}",
         _write("inv", "[1,2,3]"), store=True),
    Case("inventory-empty", INV, 1, "the inventory file is empty",
         _write("inv", ""), store=True),
    Case("inventory-csv-header", INV, 1, "inventory CSV header must name ArchiveId",
         _write("inv", 'ArchiveId,ArchiveDescription\n"a,"x\n'), store=True),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_bad_input(case: Case, world: World, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    if case.setup is not None:
        case.setup(work, monkeypatch)
    fmt = {"url": world.url, "job": world.job, "expired": world.expired, "w": str(work),
           **world.stubs}
    argv = [a.format(**fmt) for a in case.argv]
    if case.store:
        good = tmp_path / "good.json"
        good.write_text(json.dumps({"VaultARN": "arn", "InventoryDate": "2026-01-01T00:00:00Z",
                                    "ArchiveList": [{"ArchiveId": "a" * 138,
                                                     "ArchiveDescription": "x.txt",
                                                     "CreationDate": "2026-01-01T00:00:00Z",
                                                     "Size": 5, "SHA256TreeHash": "0" * 64}]}))
        assert cli.main(["inventory", "import", str(good), "--vault", "v1", "--db",
                         str(work / "store.db"), "--quiet"]) == 0
    listing_before = _listing(work / "store.db") if case.store else ""
    capsys.readouterr()
    files_before, server_before = _files(work), _mutations(world.emu)
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    err = " ".join(capsys.readouterr().err.split())
    assert rc == case.rc, err
    assert case.message.format(**fmt) in err
    assert "Traceback" not in err
    after = _files(work)
    if case.store:
        assert _listing(work / "store.db") == listing_before and "x.txt" in listing_before
        after = {k: v for k, v in after.items() if not k.startswith("store.db")}
        files_before = {k: v for k, v in files_before.items() if not k.startswith("store.db")}
    if case.keeps_partial:
        new = {k: v for k, v in after.items() if k not in files_before}
        assert all(k.endswith((".part", ".part.journal")) or v == "dir" for k, v in new.items())
        after = {k: v for k, v in after.items() if k in files_before}
    assert after == files_before
    assert _mutations(world.emu) == server_before


# ----------------------------------------------------------------- service layer / pure checks
SIZE = 5 * 1024 * 1024 + 3

PURE_CASES: list[tuple[str, Callable[[], str | None], str]] = [
    ("range-garbage", lambda: parse_byte_range("abc", SIZE)[1],
     "Byte range must look like start-end"),
    ("range-reversed", lambda: parse_byte_range("1048576-0", SIZE)[1],
     "Byte range end is before its start."),
    ("range-past-end", lambda: parse_byte_range(f"0-{SIZE}", SIZE)[1],
     f"Byte range ends past the archive (last byte is {SIZE - 1})."),
    ("range-unaligned", lambda: parse_byte_range("1-1048575", SIZE)[1],
     "Byte range must be MiB-aligned"),
    ("range-negative", lambda: parse_byte_range("-5-10", SIZE)[1],
     "Byte range must look like start-end"),
    ("sns-not-arn", lambda: validate_sns_topic("my-topic"),
     "SNS topic must look like arn:aws:sns:<region>:<12-digit account>:<topic name>."),
    ("sns-s3-arn", lambda: validate_sns_topic("arn:aws:s3:::bucket"), "SNS topic must look like"),
    ("sns-bad-account", lambda: validate_sns_topic("arn:aws:sns:us-east-1:12:t"),
     "SNS topic must look like"),
    ("description-2000-bytes", lambda: validate_description("x" * 2000),
     "Description is 2000 characters; at most 1024."),
    ("description-non-ascii", lambda: validate_description("café"),
     "Description may hold only printable ASCII"),
    ("description-nul", lambda: validate_description("a\x00b"),
     "Description may hold only printable ASCII"),
    ("description-ansi", lambda: validate_description("\x1b[31mred"),
     "Description may hold only printable ASCII"),
    ("name-traversal", lambda: sanitize_relative_name("../../etc/passwd"), "etc/passwd"),
    ("name-ansi-markup", lambda: sanitize_relative_name("\x1b[31m[bold]x[/bold]\x1b[0m"),
     "[bold]x[/bold]"),
    ("name-nul", lambda: sanitize_relative_name("a\x00b/c"), "ab/c"),
    ("name-absolute-drive", lambda: sanitize_relative_name("C:\\Windows\\x"), "Windows/x"),
    ("name-long-component", lambda: str(len(sanitize_relative_name("é" * 2000).encode())), "254"),
]


@pytest.mark.parametrize("fn,expected", [(f, e) for _, f, e in PURE_CASES],
                         ids=[i for i, _, _ in PURE_CASES])
def test_pure_bad_input(fn: Callable[[], str | None], expected: str) -> None:
    assert expected in str(fn())


def test_only_dots_name_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError) as err:
        safe_download_path(tmp_path, "../..")
    assert "has no usable characters" in err.value.user_message()
    assert list(tmp_path.iterdir()) == []


SERVICE_CASES: list[tuple[str, str, str]] = [
    ("policy-not-json", "policy:{not json", "the policy is not valid JSON (line 1, column 2)"),
    ("policy-array", "policy:[1]", "the policy must be a JSON object"),
    ("lock-policy-not-json", "lock:nope", "the policy is not valid JSON"),
    ("tier-unknown", "tier:Fast", "Glacier rejected a parameter"),
    ("archive-id-slash", "archive:../x", "Glacier rejected a parameter: Invalid archive ID: ../x"),
    ("range-unaligned-server", "range:1-10", "Glacier rejected a parameter"),
    ("sns-server", "sns:not-an-arn", "invalid SNS topic 'not-an-arn'"),
]


@pytest.mark.parametrize("kind,expected", [(k, e) for _, k, e in SERVICE_CASES],
                         ids=[i for i, _, _ in SERVICE_CASES])
async def test_service_bad_input(kind: str, expected: str, world: World) -> None:
    import boto3

    what, _, value = kind.partition(":")
    b = boto3.client("glacier", endpoint_url=world.url, region_name="us-east-1")
    archive = json.loads(b.describe_job(vaultName="v1", jobId=world.job)
                         and json.dumps(b.describe_job(vaultName="v1", jobId=world.job)))
    archive_id = archive["ArchiveId"]
    jobs_before = len(b.list_jobs(vaultName="v1")["JobList"])
    before = _mutations(world.emu)
    options = ClientOptions(endpoint_url=world.url, region="us-east-1", max_attempts=1)
    async with GlacierClient(options) as client:
        with pytest.raises(errors.GlacierError) as err:
            if what == "policy":
                await client.set_vault_access_policy("v1", value)
            elif what == "lock":
                await client.initiate_vault_lock("v1", value)
            elif what == "tier":
                await client.initiate_archive_retrieval("v1", archive_id, tier=value)
            elif what == "archive":
                await client.initiate_archive_retrieval("v1", value)
            elif what == "range":
                start, end = value.split("-")
                await client.initiate_archive_retrieval("v1", archive_id,
                                                        byte_range=(int(start), int(end)))
            elif what == "sns":
                await client.initiate_archive_retrieval("v1", archive_id, sns_topic=value)
    assert expected in err.value.user_message()
    assert _mutations(world.emu) == before
    assert len(b.list_jobs(vaultName="v1")["JobList"]) == jobs_before
