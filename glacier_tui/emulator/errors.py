"""Glacier error type: code, HTTP status and fault type as the service renders them."""

from __future__ import annotations

# Code -> (HTTP status, type), from
# https://docs.aws.amazon.com/amazonglacier/latest/dev/api-error-responses.html
STATUS: dict[str, tuple[int, str]] = {
    "ResourceNotFoundException": (404, "Client"),
    "InvalidParameterValueException": (400, "Client"),
    "MissingParameterValueException": (400, "Client"),
    "LimitExceededException": (400, "Client"),
    "PolicyEnforcedException": (400, "Client"),
    "InsufficientCapacityException": (503, "Server"),
    "RequestTimeoutException": (408, "Client"),
    "ServiceUnavailableException": (500, "Server"),
    "NoLongerSupportedException": (400, "Client"),
    "AccessDeniedException": (403, "Client"),
    "ThrottlingException": (400, "Client"),
    "BadRequest": (400, "Client"),
    "SerializationException": (400, "Client"),
    "MissingAuthenticationTokenException": (400, "Client"),
    "UnrecognizedClientException": (400, "Client"),
    "InvalidSignatureException": (403, "Client"),
    "ExpiredTokenException": (403, "Client"),
    # Not in the Glacier error table; the AWS common-errors pages give IncompleteSignature 400.
    "IncompleteSignatureException": (400, "Client"),
    "UnknownOperationException": (404, "Client"),
}


class GlacierError(Exception):
    """An error response: ``{"code","message","type"}`` with the status from ``STATUS``."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        default_status, default_type = STATUS.get(code, (400, "Client"))
        self.status = status if status is not None else default_status
        self.type = "Server" if self.status >= 500 else default_type

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "type": self.type}


def rnf(message: str) -> GlacierError:
    return GlacierError("ResourceNotFoundException", message)


def ipv(message: str) -> GlacierError:
    return GlacierError("InvalidParameterValueException", message)


def mpv(message: str) -> GlacierError:
    return GlacierError("MissingParameterValueException", message)
