"""Unit tests for the restore dialog's pure rules."""

from __future__ import annotations

import pytest

from glacier_tui.config import DEFAULT_PRICES
from glacier_tui.glacier.models import Tier
from glacier_tui.ui.formatting import human_size
from glacier_tui.ui.restore_model import (
    GB,
    MIB,
    RestoreRequest,
    estimate_cost,
    format_cost,
    parse_byte_range,
    validate_description,
    validate_sns_topic,
)


def test_cost_is_bytes_per_gb_plus_requests() -> None:
    # 10 GB Standard + 1 request: 10 × 0.01 + 0.001 × 0.05
    assert estimate_cost(10 * GB, 1, Tier.STANDARD, DEFAULT_PRICES) == pytest.approx(0.10005)
    # 1,000 Expedited requests of nothing still cost the request fee.
    assert estimate_cost(0, 1000, "Expedited", DEFAULT_PRICES) == pytest.approx(10.0)


def test_cost_unknown_tier_is_free_not_crash() -> None:
    assert estimate_cost(GB, 1, "Nope", DEFAULT_PRICES) == 0.0


@pytest.mark.parametrize(
    ("usd", "text"),
    [(0.0, "$0.00"), (0.001, "<$0.01"), (0.01, "$0.01"), (0.105, "$0.10"), (1234.5, "$1,234.50")],
)
def test_format_cost(usd: float, text: str) -> None:
    assert format_cost(usd) == text


def test_human_size_binary_units() -> None:
    assert human_size(512) == "512 B" and human_size(None) == "—"
    assert human_size(2_200_000) == "2.1 MiB" and human_size(3 * GB) == "3.0 GiB"
    assert human_size(150 * 1024**2) == "150 MiB" and human_size(None, unknown="?") == "?"


SIZE = 6 * MIB + MIB // 2  # 6.5 MiB: not a whole number of MiB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("   ", None),
        ("0-1048575", (0, MIB - 1)),
        (f"{MIB}-{3 * MIB - 1}", (MIB, 3 * MIB - 1)),
        (f"{6 * MIB} - {SIZE - 1}", (6 * MIB, SIZE - 1)),
        (f"0-{SIZE - 1}", (0, SIZE - 1)),
    ],
)
def test_valid_ranges(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_byte_range(text, SIZE) == (expected, None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("abc", "start-end"),
        ("5", "start-end"),
        ("-1-5", "start-end"),
        ("100-50", "before"),
        (f"0-{SIZE}", "past the archive"),
        ("1-1048575", "MiB-aligned"),
        ("0-1000", "MiB-aligned"),
    ],
)
def test_invalid_ranges(text: str, fragment: str) -> None:
    rng, err = parse_byte_range(text, SIZE)
    assert rng is None
    assert err is not None and fragment in err


@pytest.mark.parametrize(
    "arn",
    ["", "arn:aws:sns:us-east-1:123456789012:restores", "arn:aws:sns:eu-west-2:000000000000:a_b-c"],
)
def test_sns_ok(arn: str) -> None:
    assert validate_sns_topic(arn) is None


@pytest.mark.parametrize(
    "arn",
    [
        "restores",
        "arn:aws:sns:us-east-1:12345:restores",
        "arn:aws:sqs:us-east-1:123456789012:q",
        "arn:aws:sns:us-east-1:123456789012:",
        "arn:aws:sns:us-east-1:123456789012:bad name",
    ],
)
def test_sns_bad(arn: str) -> None:
    assert validate_sns_topic(arn) is not None


def test_description_rules() -> None:
    assert validate_description("") is None
    assert validate_description("restore photos 2024/01 ~!") is None
    assert validate_description("x" * 1024) is None
    assert validate_description("x" * 1025) is not None
    assert validate_description("café") is not None
    assert validate_description("a\tb") is not None


def test_request_range_text() -> None:
    req = RestoreRequest(Tier.BULK, (0, MIB - 1), None, None, [])
    assert req.range_text == "0-1048575"
    assert RestoreRequest(Tier.BULK, None, None, None).range_text is None
