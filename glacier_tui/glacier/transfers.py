"""Parallel, verified, resumable downloads (job output) and uploads (archives).

Downloads split the job output into tree-hash-aligned segments fetched with
ranged GetJobOutput requests, verify each against ``x-amz-sha256-tree-hash``
and the combined hash against the job's, and stream bytes into
``<final>.part`` at their offsets. ``<final>.part.journal`` records verified
segments, so a killed run resumes with only the missing ones. The final file
appears (atomic rename) only after the whole-file hash matches.

Uploads below a threshold go through UploadArchive, larger files through
multipart with parts in parallel; each part is hashed once in a worker thread
and both hashes are passed to botocore. A journal in the state directory keeps
the upload id so a killed upload resumes via ListParts.

All blocking work (file reads/writes, hashing, journal writes) runs in threads.
No Textual imports: the UI and the CLI consume :class:`TransferProgress`.

The implementation lives in :mod:`~glacier_tui.glacier.downloads`,
:mod:`~glacier_tui.glacier.uploads`, :mod:`~glacier_tui.glacier.transfer_common`
(errors, progress, retries, settings checks) and
:mod:`~glacier_tui.glacier.transfer_files` (the thread-side file and hash helpers);
this module is the public face that callers import from.
"""

from __future__ import annotations

from glacier_tui.glacier.downloads import (
    DEFAULT_SEGMENT_SIZE,
    DownloadResult,
    default_output_name,
    download_job_output,
    fetch_archive_description,
)
from glacier_tui.glacier.paths import UnsafePathError, safe_download_path
from glacier_tui.glacier.transfer_common import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    MAX_PART_SIZE,
    MAX_PARTS,
    DescriptionError,
    DiskFull,
    FileTooLarge,
    InvalidTransferSettings,
    ProgressCallback,
    TargetExists,
    TransferError,
    TransferKind,
    TransferProgress,
    TransferState,
    VerificationFailed,
    choose_part_size,
)
from glacier_tui.glacier.uploads import (
    DEFAULT_MIN_PART_SIZE,
    DEFAULT_UPLOAD_THRESHOLD,
    UploadResult,
    abort_saved_upload,
    archive_description_for,
    upload_file,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MIN_PART_SIZE",
    "DEFAULT_SEGMENT_SIZE",
    "DEFAULT_UPLOAD_THRESHOLD",
    "MAX_CONCURRENCY",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "DescriptionError",
    "DiskFull",
    "DownloadResult",
    "FileTooLarge",
    "InvalidTransferSettings",
    "ProgressCallback",
    "TargetExists",
    "TransferError",
    "TransferKind",
    "TransferProgress",
    "TransferState",
    "UnsafePathError",
    "UploadResult",
    "VerificationFailed",
    "abort_saved_upload",
    "archive_description_for",
    "choose_part_size",
    "default_output_name",
    "download_job_output",
    "fetch_archive_description",
    "safe_download_path",
    "upload_file",
]

