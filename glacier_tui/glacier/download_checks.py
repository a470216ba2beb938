"""Checks on a GetJobOutput answer before any of its bytes is written.

A ranged request must come back as the asked range of the output Glacier described:
``206`` with ``Content-Range: bytes S-E/T`` naming exactly the asked ``S-E`` and the
known total ``T`` (a ``200`` without it is accepted only when the whole output was
asked), a body of the right length, and a content type Glacier uses for job output
(https://docs.aws.amazon.com/amazonglacier/latest/dev/api-job-output-get.html).
Anything else is sorted into three kinds: not Glacier at all (an HTML page from a
proxy or a Wi-Fi login), a different output (the total changed), or a wrong answer
that another try may heal (a lying range, a short or long body).
"""

from __future__ import annotations

from glacier_tui.glacier.models import JobOutputInfo
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.transfer_common import NotGlacierResponse, OutputChanged, _Mismatch

# Archive output is application/octet-stream, inventories application/json or text/csv.
GLACIER_OUTPUT_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/json", "text/csv"}
)


def parse_content_range(value: str) -> tuple[int, int, int | None] | None:
    """``bytes S-E/T`` (T may be ``*``) → (S, E, T or None); None when malformed."""
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    rng, _, total = spec.partition("/")
    first, _, last = rng.partition("-")
    try:
        parsed = int(first), int(last), (None if total.strip() in ("", "*") else int(total))
    except ValueError:
        return None
    if parsed[0] < 0 or parsed[1] < parsed[0]:
        return None
    return parsed


def not_glacier(what: str) -> NotGlacierResponse:
    return NotGlacierResponse(
        what, hint="Check the endpoint URL, and any proxy or Wi-Fi login page in the way; "
        "nothing from this answer was written."
    )


def check_content_type(info: JobOutputInfo) -> None:
    """Refuse a body that is plainly not job output (an HTML page, XML, ...)."""
    ctype = (info.content_type or "").split(";")[0].strip().lower()
    if ctype and ctype not in GLACIER_OUTPUT_TYPES:
        raise not_glacier(inert(ctype)[:80])


def check_segment_response(info: JobOutputInfo, start: int, end: int, total: int) -> None:
    """Raise unless ``info`` announces exactly bytes ``start``-``end`` of ``total``.

    :class:`NotGlacierResponse` and :class:`OutputChanged` are final; ``_Mismatch``
    (a wrong range or length) is worth another try.
    """
    check_content_type(info)
    length = end - start + 1
    if not info.content_range:
        whole = start == 0 and end == total - 1
        if not whole or info.status not in (200, 206):
            raise not_glacier(
                f"status {info.status} without Content-Range for a request of bytes "
                f"{start}-{end}"
            )
    else:
        parsed = parse_content_range(info.content_range)
        if parsed is None:
            raise _Mismatch(f"unreadable Content-Range {inert(info.content_range)[:80]!r}")
        first, last, announced = parsed
        if announced is not None and announced != total:
            raise OutputChanged(
                f"the endpoint now says the job output is {announced:,} bytes; "
                f"{total:,} were expected"
            )
        if (first, last) != (start, end):
            raise _Mismatch(
                f"asked for bytes {start}-{end}, the answer says it holds {first}-{last}"
            )
    if info.content_length is not None and info.content_length != length:
        raise _Mismatch(f"asked for {length:,} bytes, Content-Length says {info.content_length:,}")


def total_from_probe(info: JobOutputInfo) -> int | None:
    """The output size from a one-byte probe (None when the answer does not say)."""
    check_content_type(info)
    if info.content_range is None:
        if info.status == 200 and info.content_length is not None:
            return info.content_length  # the Range was ignored: this is the whole output
        raise not_glacier(f"status {info.status} without Content-Range for a ranged request")
    parsed = parse_content_range(info.content_range)
    return None if parsed is None else parsed[2]
