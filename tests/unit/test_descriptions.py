"""Description decoders, from real-format samples (mt1/mt2, FastGlacier, CloudBerry, QNAP)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from glacier_tui.glacier.descriptions import (
    DescriptionTooLongError,
    decode_description,
    decode_fields,
    encode_mt2,
    normalize_path,
    safe_text,
)

AID = "ArchiveId-xyz"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def test_mt2_roundtrip_and_key_order() -> None:
    when = datetime(2014, 7, 30, 15, 34, 15, tzinfo=UTC)
    desc = encode_mt2("photos\\2014/été.jpg", when)
    assert desc.isascii() and "=" not in desc and desc.startswith("mt2 ")
    d = decode_description(desc, AID)
    assert (d.path, d.mtime, d.source, d.raw) == ("photos/2014/été.jpg", when, "mt2", desc)
    # Other key order and escapes go through the full JSON path.
    other = "mt2 " + b64url(json.dumps({"mtime": "20140730T153415Z", "filename": 'a"b/c'}).encode())
    assert decode_description(other, AID).path == 'a"b/c'


def test_mt1_double_utf8() -> None:
    doc = json.dumps({"filename": "café/ü.txt", "mtime": "20130101T000000Z"}, ensure_ascii=False)
    double = doc.encode("utf-8").decode("latin-1").encode("utf-8")
    d = decode_description("mt1 " + b64url(double), AID)
    assert d.source == "mt1" and d.path == "café/ü.txt"
    assert d.mtime == datetime(2013, 1, 1, tzinfo=UTC)


def test_fastglacier_v1_and_v4_and_qnap_hbs() -> None:
    p = base64.b64encode(b"C:\\Users\\me\\doc.txt").decode()
    d = decode_description(f"<ArchiveMetadata><Path>\n {p} \n</Path></ArchiveMetadata>", AID)
    assert (d.path, d.source) == ("C:/Users/me/doc.txt", "fastglacier")
    p4 = base64.b64encode(b"dir/sub/file.bin").decode()
    v4 = f"<m><v>4</v><p>{p4}</p><lm>20200102T030405Z</lm><ce>0:1:{'a' * 32}:123</ce></m>"
    d = decode_description(v4, AID)
    assert (d.path, d.source) == ("dir/sub/file.bin", "fastglacier")
    assert d.mtime == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    hbs = "<m><v>4</v><p>L3NhbXBsZS8xMjM0LnBkZg==</p><lm>20190501T100059Z</lm></m>"
    d = decode_description(hbs, AID)
    assert (d.path, d.source) == ("sample/1234.pdf", "qnap")


def test_cloudberry_utf7_and_double_encoded() -> None:
    raw = '{"Path":"backup/a+AF8-b.txt","UTCDateModified":"20190501T100059Z","Flags":3}'
    d = decode_description(raw, AID)
    assert (d.path, d.source) == ("backup/a_b.txt", "cloudberry")
    assert d.mtime == datetime(2019, 5, 1, 10, 0, 59, tzinfo=UTC)
    double = json.dumps(raw)
    assert decode_description(double, AID).path == "backup/a_b.txt"
    lower = '{"path":"x+AF8-y","UTCDateModified":"20190501T100059Z"}'
    assert decode_description(lower, AID).path == "x_y"


def test_qnap_json_and_plain_and_csv_leftover_quotes() -> None:
    d = decode_description('{"path":"/sample/1234.pdf","type":"file"}', AID)
    assert (d.path, d.source) == ("sample/1234.pdf", "qnap")
    assert decode_description("  my backup 2024  ", AID).path == "my backup 2024"
    assert decode_description('"backup,2024"', AID).path == "backup,2024"
    assert decode_description('{"other": 1}', AID).source == "plain"


def test_empty_and_error_have_one_place() -> None:
    assert decode_description("", AID).path == f"00undefined/{AID}"
    assert decode_description("   ", AID).source == "empty"
    for bad in ("mt2 @@@@", "mt2 " + b64url(b"not json"), "<m><v>4</v><p>%%%</p></m>",
                "<ArchiveMetadata></ArchiveMetadata>", "../..", "mt1 " + b64url(b"[1]")):
        d = decode_description(bad, AID)
        assert (d.path, d.source) == (f"00error/{AID}", "error"), bad
    assert decode_fields("", AID) == ("00undefined", AID, None, "empty")


def test_never_trusted_names() -> None:
    assert normalize_path("/../../etc//./passwd") == "etc/passwd"
    assert normalize_path("a\\..\\..\\b") == "a/b"
    assert normalize_path("x/\x1b[31mred\x1b[0m/\x00nul\x7f\x9b1m") == "x/red/nul"
    assert normalize_path("e\u0301") == "é"  # NFC
    assert normalize_path("\x1b]8;;http://evil\x07link\x1b]8;;\x07") == "link"
    assert normalize_path("bidi\u202eevil") == "bidievil"
    d = decode_description("[bold red]x[/] \x1b[2J", AID)
    assert d.path == "[bold red]x[/] "  # kept as plain text; rendering must not parse markup
    assert "\x1b" not in d.path and d.raw.endswith("\x1b[2J")
    assert safe_text("ok\x00\x1b[1mbold\x07") == "okbold"
    assert safe_text("plain") == "plain"


def test_encode_mt2_limit() -> None:
    with pytest.raises(DescriptionTooLongError) as ei:
        encode_mt2("x" * 800, datetime(2020, 1, 1, tzinfo=UTC))
    assert isinstance(ei.value, ValueError)
    naive = encode_mt2("a", datetime(2020, 1, 1, 12))
    assert decode_description(naive, AID).mtime == datetime(2020, 1, 1, 12, tzinfo=UTC)
