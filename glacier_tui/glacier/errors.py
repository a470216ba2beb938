"""A small typed error hierarchy with messages meant for people.

Every failure that can come out of the service layer is a ``GlacierError``:
``str(err)`` says what happened and ``err.hint`` what to do about it. Branch on
the wire code string (``err.code``), never on botocore exception classes, so the
code works with every botocore version (botocore builds its exception classes from the
service model at run time, so the classes differ between versions; the code string does not).
"""

from __future__ import annotations

from typing import Any, ClassVar

from glacier_tui.glacier.masking import shown


def _clean(text: str) -> str:
    """Server and library text is untrusted, and may echo an endpoint URL's password."""
    return shown(text).strip()


class GlacierError(Exception):
    """Base class. ``code`` is the wire error code (or a local pseudo-code)."""

    codes: ClassVar[tuple[str, ...]] = ()  # wire codes that map to this class
    summary: ClassVar[str] = "The Glacier request failed."
    default_hint: ClassVar[str] = ""
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str = "",
        *,
        code: str = "",
        status: int | None = None,
        operation: str = "",
        hint: str | None = None,
    ) -> None:
        self.detail = _clean(detail)
        self.code = code or (self.codes[0] if self.codes else type(self).__name__)
        self.status = status
        self.operation = operation
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line: what happened, with the service's own words when there are any."""
        text = self.summary
        if self.detail and self.detail not in text:
            text = f"{text.rstrip('.')}: {self.detail}"
        return text

    def user_message(self) -> str:
        """What happened and what to do, for a status line or an error screen."""
        return f"{self.message} {self.hint}".strip()


class ResourceNotFound(GlacierError):
    # moto answers a missing vault with 400 "VaultNotFound"; accept it too.
    codes = ("ResourceNotFoundException", "VaultNotFound")
    summary = "Not found."
    default_hint = (
        "Check the vault name, job id or upload id; jobs and their output vanish about "
        "24 hours after they complete."
    )


class JobOutputExpired(ResourceNotFound):
    summary = "The job or its output no longer exists."
    default_hint = (
        "Job output stays downloadable for about 24 hours after the job completes. "
        "Start the retrieval again and download it within that window."
    )


class InvalidParameterValue(GlacierError):
    codes = ("InvalidParameterValueException", "ValidationException", "SerializationException",
             "BadRequest")
    summary = "Glacier rejected a parameter."
    default_hint = "Correct the value named above and try again."


class JobOutputNotReady(InvalidParameterValue):
    summary = "The job output is not available for download."
    default_hint = (
        "Wait until the job status is Succeeded, then download it. A Failed job has no "
        "output: start the retrieval again."
    )


class VaultNotEmpty(InvalidParameterValue):
    summary = "The vault is not empty, or was written to since its last inventory."
    default_hint = (
        "Glacier counts archives from the last inventory, built about once a day. Delete every "
        "archive of the latest inventory, then retry after the next inventory shows the "
        "vault empty."
    )


class MissingParameterValue(GlacierError):
    codes = ("MissingParameterValueException",)
    summary = "A required parameter is missing."
    default_hint = "Supply the missing value and try again."


class PolicyEnforced(GlacierError):
    codes = ("PolicyEnforcedException",)
    summary = "The retrieval was refused by the account's data retrieval policy."
    default_hint = (
        "A data retrieval policy (Free Tier only, or a bytes-per-hour cap) limits Standard "
        "retrievals in this region. Use the Expedited or Bulk tier, retrieve a smaller byte "
        "range, wait for running retrievals to finish, or raise the policy's limit."
    )


class InsufficientCapacity(GlacierError):
    codes = ("InsufficientCapacityException",)
    summary = "Glacier has no Expedited capacity for this retrieval right now."
    default_hint = (
        "Use the Standard tier (3-5 hours), retry later, or buy provisioned capacity for "
        "guaranteed Expedited retrievals."
    )
    retryable = True


class LimitExceeded(GlacierError):
    codes = ("LimitExceededException",)
    summary = "A Glacier limit was reached."
    default_hint = (
        "Limits: 1,000 vaults per region, 50 tags per vault, 2 provisioned capacity units."
    )


class Throttling(GlacierError):
    codes = ("ThrottlingException", "Throttling", "TooManyRequestsException",
             "RequestLimitExceeded", "SlowDown")
    summary = "Glacier is throttling requests."
    default_hint = "Wait a moment; glacier-tui backs off and retries by itself."
    retryable = True


class RequestTimeout(GlacierError):
    codes = ("RequestTimeoutException",)
    summary = "The request body did not reach Glacier in time."
    default_hint = "Check the network and retry; transfers resume where they stopped."
    retryable = True


class ServiceUnavailable(GlacierError):
    codes = ("ServiceUnavailableException", "InternalFailure", "InternalError", "500", "502",
             "503", "504")
    summary = "Glacier is unavailable."
    default_hint = "This is usually temporary: retry in a few minutes."
    retryable = True


class AccessDenied(GlacierError):
    codes: ClassVar[tuple[str, ...]] = (
        "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
        "MissingAuthenticationTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    )
    summary = "Access denied."
    default_hint = (
        "Check that the credentials belong to the vault's account and that IAM and the vault "
        "access policy or vault lock allow this action. A wrong clock also breaks signatures."
    )


class InvalidCredentials(AccessDenied):
    codes: ClassVar[tuple[str, ...]] = (
        "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
        "IncompleteSignatureException", "IncompleteSignature",
    )
    summary = "The AWS credentials were not accepted."
    default_hint = (
        "Check the access key ID, the secret access key and the session token (or --profile): "
        "a mistyped, deleted or rotated key is refused, and temporary keys need their token."
    )


class ClockSkew(AccessDenied):
    codes: ClassVar[tuple[str, ...]] = ("RequestTimeTooSkewed", "RequestExpired")
    summary = "The request was signed with a clock that is too far off."
    default_hint = "Correct this machine's clock (enable NTP) and try again."


class NoLongerSupported(GlacierError):
    codes = ("NoLongerSupportedException",)
    summary = "This account cannot use the Glacier vault service."
    default_hint = (
        "Amazon Glacier vaults take no new customers since December 2025: only accounts that "
        "already store data in vaults can use them. Use the S3 Glacier storage classes instead."
    )


class NoCredentials(GlacierError):
    summary = "No AWS credentials were found."
    default_hint = (
        "Run `aws configure` or `aws sso login`, pass --profile, or set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY. Try `glacier-tui --demo` to explore without an account."
    )


class ExpiredToken(GlacierError):
    codes = ("ExpiredTokenException", "ExpiredToken", "TokenRefreshRequired")
    summary = "The AWS session token has expired."
    default_hint = "Refresh the credentials (for SSO: `aws sso login --profile NAME`) and retry."


class EndpointUnreachable(GlacierError):
    summary = "The Glacier endpoint cannot be reached."
    default_hint = (
        "Check the network, the region (--region) and --endpoint-url. Transfers resume where "
        "they stopped."
    )
    retryable = True


class EndpointNeverAnswered(EndpointUnreachable):
    """Unreachable on a client's first contact: retrying the next request is pointless."""

    retryable = False


class NotGlacierResponse(GlacierError):
    """A success status whose body is not what the vault API sends (a proxy's or
    captive portal's HTML page, a truncated document, pages that never end)."""

    summary = "The endpoint answered with something that is not a Glacier response."
    default_hint = (
        "Check --endpoint-url and any proxy in between (a login page or a wrong URL "
        "answers like this)."
    )

    @property
    def message(self) -> str:
        text = self.summary.rstrip(".")
        return f"{text} ({self.detail})." if self.detail else self.summary


class ConfigurationError(GlacierError):
    summary = "The AWS configuration is incomplete."
    default_hint = "Set a region with --region or AWS_DEFAULT_REGION, and check --profile."


class LocalError(GlacierError):
    """A local condition (disk, file, bad user input) rather than a service answer."""

    summary = "The operation failed."


_BY_CODE: dict[str, type[GlacierError]] = {}
for _cls in (ResourceNotFound, InvalidParameterValue, MissingParameterValue, PolicyEnforced,
             InsufficientCapacity, LimitExceeded, Throttling, RequestTimeout, ServiceUnavailable,
             AccessDenied, InvalidCredentials, ClockSkew, NoLongerSupported, ExpiredToken):
    for _code in _cls.codes:
        _BY_CODE[_code] = _cls


def _refine(cls: type[GlacierError], message: str, code: str = "") -> type[GlacierError]:
    """Pick a more specific class from the service's own (observed) message texts."""
    if code == "InvalidSignatureException":
        # AWS words a signature outside its 15-minute window "Signature expired: ..." or
        # "Signature not yet current: ..."; any other one does not match the secret.
        if message.startswith(("Signature expired", "Signature not yet current")):
            return ClockSkew
        if message.startswith("The request signature we calculated does not match"):
            return InvalidCredentials
    if cls is ResourceNotFound and message.startswith("The job ID was not found"):
        return JobOutputExpired
    if cls is InvalidParameterValue:
        if message.startswith("The job is not currently available for download"):
            return JobOutputNotReady
        if message.startswith("Vault not empty or recently written to"):
            return VaultNotEmpty
    return cls


def from_client_error(response: dict[str, Any], operation: str = "") -> GlacierError:
    """Build the typed error from a botocore ``ClientError.response``."""
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    cls = _BY_CODE.get(code)
    if cls is None:
        if isinstance(status, int) and status >= 500:
            cls = ServiceUnavailable
        elif status == 403:
            cls = AccessDenied
        elif status == 404:
            cls = ResourceNotFound
        else:
            cls = GlacierError
    cls = _refine(cls, message, code)
    detail = message if message else code
    return cls(detail, code=code or cls.__name__, status=status, operation=operation)


def translate(exc: BaseException, operation: str = "") -> GlacierError:
    """Map any exception from botocore/aiobotocore/aiohttp to a ``GlacierError``."""
    if isinstance(exc, GlacierError):
        return exc
    # Imported here so the module loads without botocore (start-up speed).
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        return from_client_error(dict(exc.response), operation)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return NoCredentials(operation=operation)
    if isinstance(exc, bx.ProfileNotFound):
        return ConfigurationError(str(exc), operation=operation,
                                  hint="Check --profile against ~/.aws/config.")
    if isinstance(exc, bx.NoRegionError):
        return ConfigurationError("no region is set", operation=operation)
    token_errors: tuple[type[BaseException], ...] = tuple(
        t for t in (getattr(bx, "TokenRetrievalError", None),
                    getattr(bx, "SSOTokenLoadError", None),
                    getattr(bx, "UnauthorizedSSOTokenError", None))
        if isinstance(t, type)
    )
    if token_errors and isinstance(exc, token_errors):
        return ExpiredToken(str(exc), operation=operation)
    if isinstance(exc, bx.ParamValidationError):
        return InvalidParameterValue(str(exc).replace("\n", " "), operation=operation,
                                     code="ParamValidationError")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError
                  | bx.ConnectionClosedError | bx.ProxyConnectionError):
        return EndpointUnreachable(str(exc), operation=operation)
    if isinstance(exc, bx.ReadTimeoutError | bx.ResponseStreamingError
                  | bx.IncompleteReadError):
        return EndpointUnreachable(f"the connection broke off: {exc}", operation=operation)
    if isinstance(exc, ConnectionError | TimeoutError):
        return EndpointUnreachable(f"the connection broke off: {exc}", operation=operation)
    try:
        import aiohttp

        if isinstance(exc, aiohttp.ClientError):
            return EndpointUnreachable(f"the connection broke off: {exc}", operation=operation)
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        pass
    return GlacierError(f"{type(exc).__name__}: {exc}", operation=operation)
