"""Bounded JSON parsing of request bodies: malformed, too deep or not an object -> 400."""

from __future__ import annotations

import json
from typing import Any

from glacier_tui.emulator.errors import GlacierError

# Glacier's JSON bodies nest at most four levels (InitiateJob's OutputLocation.S3.Tagging);
# policies are strings. Anything far deeper is hostile.
MAX_DEPTH = 32


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or SerializationException (400): "Returned if the body of
    the request is invalid" (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-error-responses.html)."""
    try:
        doc = json.loads(body)
    except RecursionError as exc:  # the C decoder gives up on very deep nesting
        raise _too_deep() from exc
    except ValueError as exc:
        raise GlacierError("SerializationException", f"Malformed JSON body: {exc}") from exc
    if not isinstance(doc, dict):
        raise GlacierError("SerializationException", "JSON body must be an object")
    if _depth(doc) > MAX_DEPTH:
        raise _too_deep()
    return doc


def _too_deep() -> GlacierError:
    return GlacierError(
        "SerializationException", f"JSON body nests deeper than {MAX_DEPTH} levels"
    )


def _depth(doc: Any) -> int:
    """Nesting depth, iteratively (a recursive walk is what deep documents attack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest
