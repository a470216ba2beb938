"""SigV4 checking of incoming requests, with botocore's own signer recomputing the signature.

Without configured credentials any well-formed Authorization header is accepted (any key,
any secret); a malformed one is refused either way. With credentials, a request must be
signed by a configured key with its secret, carry the key's session token if it has one,
and be dated within 15 minutes of the server's wall clock (not the emulator's virtual
clock: clients sign with the real time). Codes and statuses follow
https://docs.aws.amazon.com/amazonglacier/latest/dev/api-error-responses.html; the message
texts are the ones AWS sends (as quoted in public bug reports of AWS SDKs).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from glacier_tui.emulator.errors import GlacierError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "glacier"
TERMINATOR = "aws4_request"
# AWS accepts a signature dated up to 15 minutes before or after its own clock.
MAX_SKEW_SECONDS = 15 * 60
AMZ_DATE = "%Y%m%dT%H%M%SZ"

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
BAD_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


@dataclass(frozen=True)
class Credential:
    """One accepted key: a session token and an expiry (epoch seconds) for temporary ones."""

    access_key: str
    secret_key: str
    token: str | None = None
    expires: float | None = None


def parse_credentials(text: str) -> dict[str, list[Credential]]:
    """``KEY:SECRET[:TOKEN[:EXPIRY]]`` entries separated by commas; EXPIRY is ISO 8601 UTC
    (``2026-01-15T12:00:00Z``) or epoch seconds. Raises ValueError naming the bad entry.

    One key may be listed with different tokens (or once without): a request then has to
    carry one of them. AWS has one token per temporary key; listing several lets test
    clients with and without a session token share one emulator."""
    creds: dict[str, list[Credential]] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":", 3)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(
                f"credentials entry {parts[0] or '?'!r} must be KEY:SECRET[:TOKEN[:EXPIRY]]"
            )
        token = parts[2] if len(parts) > 2 and parts[2] else None
        expires = _parse_expiry(parts[3], parts[0]) if len(parts) > 3 and parts[3] else None
        if expires is not None and token is None:
            raise ValueError(f"credentials entry {parts[0]!r}: an expiry needs a session token")
        same_key = creds.setdefault(parts[0], [])
        if any(c.token == token for c in same_key):
            raise ValueError(f"credentials entry {parts[0]!r} is given twice")
        same_key.append(Credential(parts[0], parts[1], token, expires))
    if not creds:
        raise ValueError("credentials: no KEY:SECRET entry given")
    return creds


def _parse_expiry(text: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(
                f"credentials entry {key!r}: expiry {text!r} is neither ISO 8601 nor epoch seconds"
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        value = when.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"credentials entry {key!r}: expiry {text!r} is not a time")
    return value


@dataclass(frozen=True)
class ParsedAuth:
    access_key: str
    scope_date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    terminator: str


def _incomplete(message: str) -> GlacierError:
    return GlacierError("IncompleteSignatureException", message)


def parse_authorization(auth: str, headers: Mapping[str, str]) -> ParsedAuth:
    """Split a SigV4 Authorization header; IncompleteSignatureException when malformed."""
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm[:40]}'.")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, eq, value = item.strip().partition("=")
        if eq and name:
            fields[name] = value
    missing = [k for k in ("Credential", "Signature", "SignedHeaders") if not fields.get(k)]
    if missing:
        need = " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        # AWS also echoes the header; it is left out here so that no key or signature
        # reaches a client's error message or log.
        raise _incomplete(need)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term."
        )
    # A Date header in the same basic ISO 8601 form may stand in for X-Amz-Date
    # (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-common-request-headers.html).
    amz_date = headers.get("x-amz-date") or headers.get("date") or ""
    if not amz_date:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header."
        )
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        raise GlacierError(
            "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."
        )
    return ParsedAuth(
        access_key=scope[0],
        scope_date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed,
        signature=fields["Signature"],
        amz_date=amz_date,
        terminator=scope[4],
    )


def _check_scope(parsed: ParsedAuth, region: str) -> None:
    bad = "InvalidSignatureException"
    if parsed.scope_date != parsed.amz_date[:8]:
        raise GlacierError(
            bad,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{parsed.scope_date[:40]}' != '{parsed.amz_date[:8]}', from "
            f"'{parsed.amz_date[:40]}'.",
        )
    if parsed.region != region:
        raise GlacierError(
            bad, f"Credential should be scoped to a valid region, not '{parsed.region[:40]}'. "
        )
    if parsed.terminator != TERMINATOR:
        raise GlacierError(
            bad, f"Credential should be scoped with a valid terminator: '{TERMINATOR}'. "
        )
    if parsed.service != SERVICE:
        raise GlacierError(bad, f"Credential should be scoped to correct service: '{SERVICE}'. ")


def check_time(amz_date: str, now: float) -> None:
    """The signature's date must be within 15 minutes of ``now`` (wall-clock seconds)."""
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:40]}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        ) from exc

    def stamp(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime(AMZ_DATE)

    if signed_at < now - MAX_SKEW_SECONDS:
        raise GlacierError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{stamp(now - MAX_SKEW_SECONDS)} ({stamp(now)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW_SECONDS:
        raise GlacierError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{stamp(now + MAX_SKEW_SECONDS)} ({stamp(now)} + 15 min.)",
        )


class _Recompute(SigV4Auth):
    """botocore's signer, fed the header names the client says it signed and the payload
    hash the server determined, instead of choosing them itself."""

    def __init__(
        self, creds: Credentials, region: str, signed: HTTPHeaders, payload_hash: str
    ) -> None:
        super().__init__(creds, SERVICE, region)
        self._signed = signed
        self._payload_hash = payload_hash

    def headers_to_sign(self, request: Any) -> HTTPHeaders:
        return self._signed

    def payload(self, request: Any) -> str:
        return self._payload_hash


def expected_signature(
    parsed: ParsedAuth,
    secret: str,
    method: str,
    url: str,
    headers: Any,
    payload_hash: str,
) -> str:
    """The signature botocore computes for this request. ``url`` carries the raw path and
    query as received; ``headers`` is the request's multi-dict."""
    signed = HTTPHeaders()
    for name in parsed.signed_headers:
        for value in headers.getall(name, []):
            value.encode("utf-8")  # UnicodeEncodeError for bytes that were not UTF-8
            signed[name] = value
    signer = _Recompute(Credentials(parsed.access_key, secret), parsed.region, signed, payload_hash)
    request = AWSRequest(method=method, url=url)
    request.context["timestamp"] = parsed.amz_date
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return str(signer.signature(string_to_sign, request))


@dataclass
class Verifier:
    """Checks requests against ``credentials`` (None: any key is accepted)."""

    credentials: dict[str, list[Credential]] | None
    region: str

    def authenticate(
        self, headers: Any, now: float, query_signed: bool = False
    ) -> tuple[ParsedAuth | None, Credential | None]:
        """Everything but the signature itself, which needs the payload hash: the header
        is well-formed, the key and token are known and current, the date is near ``now``."""
        auth = headers.get("Authorization", "")
        if not auth:
            if query_signed and self.credentials is None:
                return None, None  # presigned URL: accepted unchecked, as before
            if query_signed:
                raise _incomplete("Query-string (presigned) signatures are not supported here")
            raise GlacierError(
                "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        parsed = parse_authorization(auth, headers)
        if self.credentials is None:
            return parsed, None
        token = headers.get("X-Amz-Security-Token")
        cred = next(
            (c for c in self.credentials.get(parsed.access_key, []) if c.token == token), None
        )
        if cred is None:
            raise GlacierError("UnrecognizedClientException", BAD_TOKEN)
        if cred.expires is not None and cred.expires <= now:
            raise GlacierError("ExpiredTokenException", EXPIRED_TOKEN)
        _check_scope(parsed, self.region)
        check_time(parsed.amz_date, now)
        return parsed, cred

    @staticmethod
    def verify(
        parsed: ParsedAuth | None,
        cred: Credential | None,
        method: str,
        url: str,
        headers: Any,
        payload_hash: str,
    ) -> None:
        if parsed is None or cred is None:
            return
        try:
            want = expected_signature(parsed, cred.secret_key, method, url, headers, payload_hash)
        except UnicodeError:  # a header that is not UTF-8: nothing a client could have signed
            raise GlacierError("InvalidSignatureException", MISMATCH) from None
        if not hmac.compare_digest(want, parsed.signature):
            raise GlacierError("InvalidSignatureException", MISMATCH)


def body_hash(body: bytes | None) -> str:
    return hashlib.sha256(body or b"").hexdigest()
