"""decode_many() against the per-item reference decode_fields(), item by item."""

from __future__ import annotations

import base64
import json
import random
import unicodedata
from collections.abc import Callable, Sequence

import pytest

from glacier_tui.glacier import descriptions_bulk as descriptions_mod
from glacier_tui.glacier.descriptions import decode_fields, encode_mt2, normalize_path
from glacier_tui.glacier.descriptions_bulk import decode_many

AID = "ArchiveId-xyz"

Row = tuple[str, str, str | None, str]


def reference(descriptions: Sequence[str], ids: Sequence[str]) -> list[Row]:
    return [decode_fields(d, a) for d, a in zip(descriptions, ids, strict=True)]


def batched(descriptions: Sequence[str], ids: Sequence[str]) -> list[Row]:
    return list(zip(*decode_many(descriptions, ids), strict=True))


def assert_same(descriptions: Sequence[str], ids: Sequence[str] | None = None) -> None:
    ids = [AID] * len(descriptions) if ids is None else ids
    expected = reference(descriptions, ids)
    got = batched(descriptions, ids)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, (i, descriptions[i], ids[i])


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mt2(filename: str, mtime: str = "20140730T153415Z") -> str:
    doc = json.dumps({"filename": filename, "mtime": mtime}, ensure_ascii=False,
                     separators=(",", ":"))
    return "mt2 " + b64url(doc.encode())


def mt2_raw(payload: bytes) -> str:
    return "mt2 " + b64url(payload)


def fg(path: bytes, lm: str = "20200102T030405Z", ce: str | None = "0:0:abc:1") -> str:
    ce_part = "" if ce is None else f"<ce>{ce}</ce>"
    return f"<m><v>4</v><p>{base64.b64encode(path).decode()}</p><lm>{lm}</lm>{ce_part}</m>"


def cloudberry(path: str, when: str = "20190501T100059Z", flags: str = "0") -> str:
    return f'{{"Path": "{path}", "UTCDateModified": "{when}", "Flags": {flags}}}'


def qnap(path_json_body: str, kind: str = "file") -> str:
    return f'{{"path": "{path_json_body}", "type": "{kind}"}}'


# --- random descriptions ------------------------------------------------------

# Segments the bulk path accepts (however odd they look) and ones it must leave alone.
CLEAN_SEGMENTS = (
    "photos", "2019", "été", "données", "file.txt", "a b", "x..y", ".hidden", "日本語", "😀",
    "+plus", "a+-b", "%41", "ñ", "Ω", "CON", "a:b", "{br}", "[x]", "&amp;", "file.", "a=b",
    "-", "_", "~", "ÿ", "Ā", "한글", "+AOk-", "=", "x,y", "'s", "×÷",
)
ODD_SEGMENTS = (
    " lead", "trail ", ".", "..", "", "e\u0301", "\u0301acc", "ᄀ", "ᅡ", "a\\b", "\x00nul",
    "\x1b[31mred\x1b[0m", "bidi\u202eevil", "tab\tx", "nl\nx", 'q"uote', "\u00a0nbsp",
    "soft\u00adhy", "\x7fdel", "\x9bcsi", "\u2028", "\ufeffbom", "zw\u200bj", "Å",
)
MTIMES = (
    "20140730T153415Z", "20991231T235959Z", "20140230T000000Z", "00000000T000000Z",
)
ODD_MTIMES = (
    "2014-07-30T15:34:15Z", "2014-07-30T15:34:15", "2014-07-30T15:34:15+02:00",
    " 20140730T153415Z", "20140730T153415Z ", "2014073T153415Z", "201407300T153415Z",
    "20140730t153415z", "٢٠١٤٠٧٣٠T١٥٣٤١٥Z", "garbage", "", "20140730T153415", "0" * 16,
)
SPECIALS = ("=", "\n", '"', "\\", "\x00", "\x1b[31m", "\u202e", "\u0301", " ", "/", "+", "-",
            "_", "<", ">", "{", "}", ",", ":", "\t", "\r", "\u3000", "é", "A", "==")


def rand_text(rng: random.Random, max_len: int = 12) -> str:
    """Surrogate-free random unicode, biased to characters that matter here."""
    pools = (
        "abcxyz0189", "/\\.. ", "\x00\x01\x1b\x7f\x9b\x85\xa0\xad", "éèñüÅΩ",
        "\u0300\u0301\u0327\u0338", "\u202a\u202e\u2066\u200b\ufeff\u2028", "日本語😀한글",
    )
    out = []
    for _ in range(rng.randrange(max_len + 1)):
        if rng.random() < 0.1:
            c = rng.randrange(0x20, 0x3000)
            out.append(chr(c) if not 0xD800 <= c < 0xE000 else "x")
        else:
            out.append(rng.choice(rng.choice(pools)))
    return "".join(out)


def rand_path(rng: random.Random, odd: float) -> str:
    if rng.random() >= odd:
        return "/".join(rng.choice(CLEAN_SEGMENTS) for _ in range(rng.randrange(1, 6)))
    if rng.random() < 0.8:
        parts = [rng.choice(CLEAN_SEGMENTS + ODD_SEGMENTS) for _ in range(rng.randrange(1, 5))]
        p = rng.choice(("/", "/", "/", "\\", "//")).join(parts)
        return rng.choice(("", "", "/", "//", "./")) + p + rng.choice(("", "", "/", "/."))
    return rand_text(rng)


def rand_mtime(rng: random.Random, odd: float) -> str:
    if rng.random() >= odd:
        return rng.choice(MTIMES)
    return rng.choice(ODD_MTIMES) if rng.random() < 0.8 else rand_text(rng, 20)


def rand_mt(rng: random.Random, odd: float) -> str:
    path, mtime = rand_path(rng, odd), rand_mtime(rng, odd)
    doc: dict[str, object] = {"filename": path, "mtime": mtime}
    r = rng.random() / odd
    if r < 0.1:
        doc = {"mtime": mtime, "filename": path}
    elif r < 0.15:
        doc = {"filename": path}
    elif r < 0.2:
        doc = {"filename": path, "mtime": mtime, "extra": 1}
    elif r < 0.23:
        doc = {"filename": 5, "mtime": mtime}
    elif r < 0.25:
        doc = {"filename": path, "mtime": 7}
    seps = (",", ":") if rng.random() >= odd else (", ", ": ")
    text = json.dumps(doc, ensure_ascii=rng.random() < odd, separators=seps)
    payload = text.encode("utf-8", "surrogatepass")
    if rng.random() < odd / 2:
        payload = payload[: rng.randrange(len(payload) + 1)]
    if rng.random() < odd:  # mt1: double UTF-8
        payload = payload.decode("latin-1").encode("utf-8")
        head = "mt1 "
    else:
        head = "mt2 "
    body = b64url(payload)
    r = rng.random() / odd
    if r < 0.1 and body:  # non-canonical leftover bits
        last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        body = body[:-1] + rng.choice(last)
    elif r < 0.15:
        body += "=" * rng.randrange(1, 3)
    elif r < 0.2:
        body = body.replace("-", "+").replace("_", "/")
    return head + body


def rand_fg(rng: random.Random, odd: float) -> str:
    path = rand_path(rng, odd).encode("utf-8", "surrogatepass")
    if rng.random() < odd / 4:
        path = b"\xff\xfe" + path
    b64 = base64.b64encode(path).decode()
    r = rng.random() / odd
    if r < 0.1:
        b64 = b64.rstrip("=")
    elif r < 0.15 and b64.endswith("="):  # non-canonical leftover bits
        i = len(b64.rstrip("=")) - 1
        b64 = b64[:i] + rng.choice("BCDRhx9") + b64[i + 1 :]
    elif r < 0.2:
        i = rng.randrange(len(b64) + 1)
        b64 = b64[:i] + rng.choice((" ", "\n", "=", "!", "-")) + b64[i:]
    lm = rand_mtime(rng, odd)
    r = rng.random() / odd
    if r < 0.1:
        return f"<m><v>4</v><p>{b64}</p><lm>{lm}</lm></m>"  # QNAP HBS: no <ce>
    if r < 0.15:
        return f"<m><v>4</v><lm>{lm}</lm><p>{b64}</p><ce>x</ce></m>"
    if r < 0.2:
        return f"<ArchiveMetadata><Path>{b64}</Path></ArchiveMetadata>"
    ce = rng.choice(("0:0:abc:1", "", "ü:ß") if rng.random() >= odd else ("a\nb", "x<y"))
    return f"<m><v>4</v><p>{b64}</p><lm>{lm}</lm><ce>{ce}</ce></m>"


def rand_cloudberry(rng: random.Random, odd: float) -> str:
    path = rand_path(rng, odd)
    try:
        enc = path.encode("utf-7").decode("ascii")
    except UnicodeError:
        enc = path
    r = rng.random() / odd
    if r < 0.1 and "+" in enc:  # drop a shift terminator
        enc = enc.replace("-", "", 1)
    elif r < 0.15:
        enc += rng.choice(("+", "+AOk", "+2D3", "+A-", "+AAA", "+2D3-", "+.x"))
    elif r < 0.2:
        enc = json.dumps(enc)[1:-1]
    flags = rng.choice(("0", "3", "-1", "12345"))
    if rng.random() < odd:
        flags = rng.choice(("007", "1e3", "99999999999999999999", '"x"', "1.5", "-0"))
    when = rand_mtime(rng, odd)
    r = rng.random() / odd
    if r < 0.1:
        return json.dumps({"Path": enc, "UTCDateModified": when, "Flags": 0},
                          ensure_ascii=rng.random() < 0.5)
    if r < 0.15:
        return f'{{"Path": "{enc}"}}'
    if r < 0.2:
        return json.dumps({"path": enc, "UTCDateModified": when})
    return cloudberry(enc, when, flags)


def rand_qnap(rng: random.Random, odd: float) -> str:
    path = rng.choice(("/", "/", "", "//")) + rand_path(rng, odd)
    body = json.dumps(path, ensure_ascii=rng.random() < 0.5)[1:-1]
    r = rng.random() / odd
    if r < 0.1:
        body += "\\"
    elif r < 0.15:
        body = body.replace("\\u", "\\x", 1)
    elif r < 0.2:
        body += rng.choice(("\\ud800", "\\ud83d\\ude00", "\\u002f", "\\/", "\\n", "\\\\u0041"))
    kind = rng.choice(("file", "dir", "") if rng.random() >= odd else ("a\\nb", "x\ty"))
    if rng.random() < odd / 3:
        return json.dumps({"path": path})
    return qnap(body, kind)


def rand_plain(rng: random.Random, odd: float) -> str:
    p = rand_path(rng, odd)
    r = rng.random() / odd
    if r < 0.1:
        p = rng.choice((" ", "\t", "\u3000", "\n")) + p
    elif r < 0.2:
        p += rng.choice((" ", "\t", "\u3000", "\n", "\x85"))
    elif r < 0.25:
        p = f'"{p}"'
    elif r < 0.3:
        p = rng.choice(("mt2", "mt1", "<m>", "<x", "{", "{x", '{"P', "m", "mt2x")) + p
    return p


def rand_other(rng: random.Random, odd: float) -> str:
    return rng.choice((
        "", " ", "  \t ", '""', '" "', "mt2 ", "mt2", "mt1 ", "<m>", "{}", "[]", '"{}"',
        json.dumps(json.dumps({"Path": "a/b", "UTCDateModified": "20190501T100059Z"})),
        json.dumps(json.dumps({"path": "/a/b"})), '{"other": 1}', "null", "\x1b[2J",
        '"' + mt2("q/a.txt") + '"', " " + mt2("lead/space.txt"), mt2("trail/space") + " ",
        "[bold red]x[/]", "..", "../..", "/", "\\", "a//b", "./a",
    ))


def mutate(rng: random.Random, s: str) -> str:
    r = rng.random()
    if r < 0.4 or not s:
        i = rng.randrange(len(s) + 1)
        return s[:i] + rng.choice(SPECIALS) + s[i:]
    if r < 0.7:
        return s[: rng.randrange(len(s))]
    i = rng.randrange(len(s))
    return s[:i] + rand_text(rng, 2) + s[i + 1 :]


GENERATORS: tuple[Callable[[random.Random, float], str], ...] = (
    rand_mt, rand_mt, rand_mt, rand_fg, rand_cloudberry, rand_qnap, rand_plain, rand_plain,
)


def rand_description(rng: random.Random, odd: float) -> str:
    if rng.random() < odd / 5:
        return rand_other(rng, odd)
    d = rng.choice(GENERATORS)(rng, odd)
    if rng.random() < odd / 2:
        d = mutate(rng, d)
    return d


def rand_archive_id(rng: random.Random, odd: float) -> str:
    if rng.random() >= odd / 5:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "".join(rng.choices(alphabet, k=rng.choice((138, 10, 1))))
    return rng.choice(("", "..", "a/b", "/x/", "\x1b[1m", "e\u0301", " ", "./.", "a\\b"))


def corpus(seed: int, n: int, odd: float) -> tuple[list[str], list[str]]:
    """n random descriptions; a fraction ``odd`` (roughly) are malformed or need the reference."""
    rng = random.Random(seed)
    return ([rand_description(rng, odd) for _ in range(n)],
            [rand_archive_id(rng, odd) for _ in range(n)])


# --- differential tests ------------------------------------------------------

@pytest.fixture
def slow_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Descriptions that decode_many() handed to the per-item reference."""
    calls: list[str] = []

    def counting(raw: str, archive_id: str) -> Row:
        calls.append(raw)
        return decode_fields(raw, archive_id)

    monkeypatch.setattr(descriptions_mod, "decode_fields", counting)
    return calls


# Bulk attempt sizes and reference steps: the defaults, and small parts with no skipping so
# that bulk attempts over neighbours succeed even in corpora with many odd items (and so
# cross-item effects get exercised).
GRANULARITIES: tuple[tuple[tuple[int, ...], int], ...] = (
    (descriptions_mod._SIZES, descriptions_mod._REFERENCE_STEP),
    ((2,), 0),
    ((1,), 0),
    ((16, 3), 0),
    ((16, 3), 7),
)


@pytest.mark.parametrize("odd", [0.02, 0.2, 0.7])
@pytest.mark.parametrize("seed", range(3))
def test_random_mix_matches_reference(
    seed: int, odd: float, monkeypatch: pytest.MonkeyPatch, slow_calls: list[str]
) -> None:
    descriptions, ids = corpus(seed, 2500, odd)
    for sizes, reference_step in GRANULARITIES:
        monkeypatch.setattr(descriptions_mod, "_SIZES", sizes)
        monkeypatch.setattr(descriptions_mod, "_REFERENCE_STEP", reference_step)
        slow_calls.clear()
        assert_same(descriptions, ids)
        if odd <= 0.2 and sizes == (1,):  # the bulk path really was exercised
            assert len(slow_calls) < len(descriptions) * 0.6, sizes


def test_batch_sizes_and_orders_do_not_matter() -> None:
    descriptions, ids = corpus(99, 1500, 0.2)
    expected = reference(descriptions, ids)
    for size in (1, 2, 7, 64, 65, len(descriptions)):
        got: list[Row] = []
        for a in range(0, len(descriptions), size):
            got += batched(descriptions[a : a + size], ids[a : a + size])
        assert got == expected, size
    order = list(range(len(descriptions)))
    random.Random(5).shuffle(order)
    shuffled = batched([descriptions[i] for i in order], [ids[i] for i in order])
    assert shuffled == [expected[i] for i in order]
    assert batched(descriptions[::-1], ids[::-1]) == expected[::-1]


def test_mostly_clean_batches_with_a_few_odd_items(slow_calls: list[str]) -> None:
    # The realistic case: a few odd items cost a few small pieces, not the batch.
    rng = random.Random(3)
    clean = [mt2(f"dir{i % 7}/été/file{i}.jpg", f"2014{1 + i % 9:02d}30T153415Z")
             for i in range(3000)]
    for i in rng.sample(range(3000), 20):
        clean[i] = rand_description(rng, 1.0)
    assert_same(clean)
    assert len(slow_calls) <= 20 * 8
    plain = [f"folder/{i}.txt" for i in range(3000)]
    for i in rng.sample(range(3000), 20):
        plain[i] = rng.choice((" x", "a//b", "e\u0301", "..", "x\x1b[1m", "/abs"))
    slow_calls.clear()
    assert_same(plain)
    assert len(slow_calls) <= 20 * 8


def test_paths_that_need_normalizing_stay_in_bulk(slow_calls: list[str]) -> None:
    # Only the odd path is normalized one by one; only a path that normalizes to nothing
    # (an error item) needs the reference.
    odd = [mt2("e\u0301t\u0301/x.jpg"), mt2("/lead/x"), mt2("a//b"), mt2("a/./b"),
           mt2("bidi\u202e/z"), mt2_raw(b'{"filename":"x\x1b[1m/y","mtime":"20140730T153415Z"}')]
    descriptions = [mt2(f"dir/file{i}.jpg") for i in range(2000)]
    for k, i in enumerate(range(5, 2000, 97)):
        descriptions[i] = odd[k % len(odd)]
    descriptions[1000] = mt2("../..")
    assert_same(descriptions)
    assert slow_calls == [descriptions[1000]]
    plain = [f"dir/file{i}.jpg" for i in range(500)] + ["/abs/x", "a//b", " lead", "tail\t"]
    slow_calls.clear()
    assert_same(plain)
    assert slow_calls == [" lead", "tail\t"]  # the reference strips these first


def count_bulk_items(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Items handed to bulk attempts (a part's size per attempt)."""
    sizes: list[int] = []
    real = descriptions_mod._try_fast

    def counting(kind, idx, descriptions, out, slow):  # type: ignore[no-untyped-def]
        sizes.append(len(idx))
        return real(kind, idx, descriptions, out, slow)

    monkeypatch.setattr(descriptions_mod, "_try_fast", counting)
    return sizes


def test_odd_batches_waste_little_bulk_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # JSON with escapes: every item fails the mt2 fast shape. Bulk attempts soon stop.
    odd = [mt2_raw(json.dumps({"filename": f"é/{i}", "mtime": "20140730T153415Z"}).encode())
           for i in range(5000)]
    attempted = count_bulk_items(monkeypatch)
    assert_same(odd)
    assert sum(attempted) < len(odd) / 10
    # A clean batch: each item in exactly one (successful) bulk attempt.
    attempted.clear()
    assert_same([mt2(f"d/{i}") for i in range(5000)])
    assert sum(attempted) == 5000 and max(attempted) == descriptions_mod._SIZES[0]


def test_bench_shapes(slow_calls: list[str]) -> None:
    rng = random.Random(11)
    descriptions = []
    for i in range(2000):
        path = "/".join(rng.choice(("photos", "été", "données", "2021")) for _ in range(3))
        path += f"/file-{i:07d}.tar.gz"
        mtime = f"20{10 + i % 14:02d}0{1 + i % 9}1{i % 10}T1{i % 10}2{i % 10}3{i % 10}Z"
        descriptions += [
            mt2(path, mtime), fg(path.encode(), mtime),
            json.dumps({"Path": path.encode("utf-7").decode(), "UTCDateModified": mtime,
                        "Flags": 0}),
            json.dumps({"path": "/" + path, "type": "file"}), path, "",
        ]
    assert_same(descriptions)
    assert slow_calls == []
    sources = decode_many(descriptions[:6], [AID] * 6)[3]
    assert sources == ["mt2", "fastglacier", "cloudberry", "qnap", "plain", "empty"]


# --- explicit edge cases -----------------------------------------------------

EDGE_CASES = [
    "", " ", "\t\n", '""', '" "', '"  x  "', "mt2 ", "mt2", "mt2  " + b64url(b"{}"),
    mt2("a/b.txt"), mt2("a/b.txt") + "\n", "\u3000" + mt2("a/b.txt"), '"' + mt2("a.txt") + '"',
    mt2("a\\b"), mt2('a"b'), mt2("a\x00b"), mt2("e\u0301"), mt2("/lead"), mt2("trail/"),
    mt2("a//b"), mt2("./a"), mt2("a/./b"), mt2("a/../b"), mt2(".."), mt2("."), mt2(""),
    mt2("a/.hidden"), mt2("x..y/z"), mt2("\x1b[31mred"), mt2("bidi\u202eevil"), mt2("a\nb"),
    mt2("ok", "2014-07-30T15:34:15Z"), mt2("ok", "٢٠١٤٠٧٣٠T١٥٣٤١٥Z"),
    mt2("ok", " 20140730T153415Z"),
    mt2("ok", "20140730T153415"), mt2("ok", "bad"), mt2("ok", ""),
    mt2_raw(b'{"mtime":"20140730T153415Z","filename":"k/o.txt"}'),
    mt2_raw(b'{"filename":"a\\u00e9b","mtime":"20140730T153415Z"}'),
    mt2_raw(b'{"filename":"a\\/b","mtime":"20140730T153415Z"}'),
    mt2_raw(b'{"filename":"ok","mtime":"20140730T153415Z"}\x00'),
    mt2_raw(b'{"filename":"ok","mtime":"20140730T153415Z"} '),
    mt2_raw(b' {"filename":"ok","mtime":"20140730T153415Z"}'),
    mt2_raw(b'{"filename":"\xff","mtime":"20140730T153415Z"}'),
    mt2_raw(b'{"filename":"a\tb","mtime":"20140730T153415Z"}'),
    mt2_raw(b'x{"filename":"ok","mtime":"20140730T153415Z"}'),
    mt2_raw(b'{"filename":"a\nb","mtime":"20140730T153415Z"}'),
    mt2("a/b.txt")[:12] + "@@@@" + mt2("a/b.txt")[12:],  # lengths stay valid
    mt2("a/b.txt")[:12] + "    " + mt2("a/b.txt")[12:],
    mt2_raw(b"not json"), mt2_raw(b"[1]"), mt2_raw(b'"str"'), "mt2 @@@@", "mt2 " + "A" * 5,
    mt2("x") + "=", mt2("xy") + "==", mt2("xyz") + "===", "mt2 =" + mt2("x")[4:],
    "mt1 " + b64url('{"filename":"café","mtime":"20130101T000000Z"}'.encode().decode(
        "latin-1").encode()),
    fg(b"dir/sub/file.bin"), fg(b"/qnap/style.bin", ce=None), fg(b"no/ce.bin", ce=None),
    fg(b"a\nb"), fg(b"a\x00b"), fg(b"\xff"), fg(b""), fg(b"x", lm="2014-07-30T15:34:15Z"),
    fg(b"x", lm="bad"), fg(b"C:\\Users\\me"), fg(b"e\xcc\x81"), fg(b"a", ce="x\ny"),
    "<m><v>4</v><p>QQ</p><lm>20200102T030405Z</lm><ce>c</ce></m>",
    "<m><v>4</v><p>QR==</p><lm>20200102T030405Z</lm><ce>c</ce></m>",
    "<m><v>4</v><p>QUL=</p><lm>20200102T030405Z</lm><ce>c</ce></m>",
    "<m><v>4</v><p>QUJD=</p><lm>20200102T030405Z</lm><ce>c</ce></m>",
    "<m><v>4</v><p>QU JD</p><lm>20200102T030405Z</lm><ce>c</ce></m>",
    "<m><v>4</v><p>%%%</p></m>", "<ArchiveMetadata></ArchiveMetadata>",
    "<m><p>QUJD</p>" + fg(b"x"), '{"Pa' + cloudberry("x"), '{"pa' + qnap("/x"),
    cloudberry("backup/a+AF8-b.txt"), cloudberry("donn+AOk-es/x"), cloudberry("a+AOk"),
    cloudberry("a+"), cloudberry("a+-b"), cloudberry("a+.b"), cloudberry("a+2D3-b"),
    cloudberry("a+2D3"), cloudberry("a+A-b"), cloudberry("a+AAo-b"), cloudberry("a\\u0041"),
    cloudberry("x+AGEAYgBjA"), cloudberry("x+2AA"), cloudberry("x+2AA-"), cloudberry("x+2AA.y"),
    cloudberry("caf\u00e9"), cloudberry("a\tb"), cloudberry("x", flags="007"),
    cloudberry("x", flags="1.5"), cloudberry("x", when="bad"), cloudberry("/abs/x"),
    cloudberry("x", flags="9" * 5000),
    qnap("/sample/1234.pdf"), qnap("sample"), qnap("/"), qnap(""), qnap("//a"),
    qnap("/\\u00e9t\\u00e9"), qnap("/a\\ud800b"), qnap("/\\ud83d\\ude00"), qnap("/a\\"),
    qnap("/a\\\\u0041"), qnap("/a\\/b"), qnap("/a\\nb"), qnap("/a\tb"), qnap("/x", "a\\nb"),
    qnap("/\\u002fetc"), qnap("/\\u0000"), qnap("/\\u00e9\tx"), qnap("/\\u00e9\x00"),
    qnap("/été\tx"), qnap("/日本\x1f"),
    "  my backup 2024  ", "plain", "a/b/c", "/abs/path", "a\\b", "[bold red]x[/] \x1b[2J",
    "x\u0301", "\u0301x", "ᄀ", "ᅡ", "a\u2028b", "\x85x", "x\x85", "\u00a0x", "x\u00a0",
    '{"other": 1}', '{"path": 5}', "{", "<x>", '"a"', '"{\\"Path\\": \\"a\\"}"',
]


def test_edge_cases_match_reference() -> None:
    assert_same(EDGE_CASES)
    # each alone too: a batch of one item takes the same bulk path
    for d in EDGE_CASES:
        assert_same([d])
    # and surrounded by items the bulk path accepts
    for d in EDGE_CASES:
        assert_same([mt2("a/b"), d, mt2("c/d"), "plain/x", d, qnap("/q"), d])


def test_odd_archive_ids_for_empty_and_error() -> None:
    ids = ["", "..", "a/b", "/x/", "\x1b[1m", "e\u0301", " ", "./.", "a\\b", "ok"]
    for d in ("", "..", mt2(".."), "  "):
        assert_same([d] * len(ids), ids)
        assert_same([d, "", "x"] * len(ids), ids * 3)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        decode_many(["a"], [])
    assert decode_many([], []) == ([], [], [], [])


# --- alignment attacks on the joining tricks ---------------------------------

def test_mt2_records_cannot_tile_across_items() -> None:
    # Neither half is a record, but the two decoded payloads concatenated would be one.
    first = mt2_raw(b'{"filename":"evil')
    second = mt2_raw(b'","mtime":"20140730T153415Z"}')
    whole = mt2_raw(b'{"filename":"x","mtime":"20140730T153415Z"}')
    assert_same([first, second])
    assert_same([first, second, whole, whole])
    # One payload holding two records next to one holding none keeps the count.
    two = mt2_raw(b'{"filename":"a","mtime":"20140730T153415Z"}\n\n\n'
                  b'{"filename":"b","mtime":"20140730T153415Z"}')
    assert_same([two, mt2_raw(b"garbage"), whole])
    # Fence bytes inside a payload, and payload bytes equal to the padding junk.
    assert_same([mt2_raw(b'{"filename":"a\n\n\nb","mtime":"20140730T153415Z"}'), whole])
    assert_same([mt2_raw(b'{"filename":"a","mtime":"20140730T153415Z"}\x00'), whole])
    assert_same([mt2_raw(b'{"filename":"a","mtime":"20140730T153415Z"}\x00\x00'), whole])
    # A record whose junk is not zero (non-canonical tail) next to a canonical one.
    canonical = mt2("ab")
    for last in "BCDEFGHIJKLMNOP":
        assert_same([canonical[:-1] + last, canonical])


def test_mt2_mtimes_cannot_shift_between_items() -> None:
    short = mt2("a", "20140730T15341")
    long_ = mt2("b", "5Z20140730T153415Z")
    assert_same([short, long_])
    assert_same([mt2("a", "20140730T153415"), mt2("b", "Z20140730T153415Z")])


def test_fastglacier_paths_cannot_move_between_items() -> None:
    ok = fg(b"ok/file")
    assert_same([fg(b"a\nb"), fg(b""), ok])
    assert_same([fg(b"a\x00"), fg(b"b"), ok])
    # Two items whose b64 fields would form one base64 stream if "=" were dropped.
    assert_same([fg(b"a"), fg(b"bc"), fg(b"def")])
    assert_same([fg(b"x", lm="20200102T03040"), fg(b"y", lm="5Z20200102T030405Z")])
    # A record spanning two lines only if "\n" were allowed in a field.
    assert_same(["<m><v>4</v><p>QQ==</p><lm>20200102T030405Z</lm><ce>a", "</ce></m>", ok])


def test_cloudberry_utf7_state_cannot_leak_between_items() -> None:
    nxt = cloudberry("next/item")
    for tail in ("+AOk", "+2D3", "+A", "+AAA", "+", "+2D3-", "+AOk-"):
        assert_same([cloudberry("a" + tail), nxt])
        assert_same([cloudberry("a" + tail), cloudberry("-b"), nxt])
    assert_same([cloudberry("a+AAo-b"), nxt])  # a decoded "\n"


def test_qnap_json_bodies_cannot_merge() -> None:
    nxt = qnap("/next")
    assert_same([qnap("/a\\"), nxt])  # would escape the separator quote
    assert_same([qnap('/a\\", \\"'), nxt])
    assert_same([qnap("/\\ud83d"), qnap("\\ude00"), nxt])  # surrogate halves stay apart


def test_path_checks_cannot_hide_across_items() -> None:
    # Joined with "/", the check must still see each item's own start and end.
    cases = [["a/", "b"], ["a", "/b"], ["a/.", "b"], ["a", "./b"], ["a/..", "b"], ["", "b"],
             ["e", "\u0301"], ["ᄀ", "ᅡ"], ["a ", "b"], ["a", " b"], ["a.", ".b"]]
    for pair in cases:
        assert_same([mt2(p) for p in pair])
        assert_same([qnap("/" + p) for p in pair])
        assert_same(pair)


def test_separator_slash_is_a_normalization_boundary() -> None:
    # The NFC check over "/"-joined paths relies on "/" never composing with a neighbour:
    # then NFC(a + "/" + b) == NFC(a) + "/" + NFC(b).
    assert unicodedata.combining("/") == 0 and unicodedata.decomposition("/") == ""
    for c in map(chr, range(0x110000)):
        if "\ud800" <= c <= "\udfff":
            continue
        nfc = unicodedata.normalize("NFC", c)
        assert "/" not in nfc or c == "/"  # NFC neither adds nor removes a separator
        assert unicodedata.normalize("NFC", "/" + c) == "/" + nfc
        assert unicodedata.normalize("NFC", c + "/") == nfc + "/"


def test_a_leading_slash_never_changes_the_normalized_path() -> None:
    # The QNAP fast path drops the leading "/" before the bulk check.
    rng = random.Random(8)
    samples = [rand_text(rng, 16) for _ in range(3000)] + [rand_path(rng, 0.5) for _ in range(3000)]
    samples += ["\x1b", "\x1b/", ".", "..", "", "/", "\u0301", "\\"]
    for p in samples:
        assert normalize_path("/" + p) == normalize_path(p), p


def test_only_ascii_space_is_printable_whitespace() -> None:
    # Plain descriptions are stripped by the reference; the bulk path relies on every other
    # whitespace character failing the printable check.
    spaces = [c for c in map(chr, range(0x110000)) if c.isspace()]
    assert [c for c in spaces if c.isprintable()] == [" "]


def test_latin1_text_is_always_nfc() -> None:
    chars = "".join(map(chr, range(256)))
    assert unicodedata.is_normalized("NFC", chars)
    for a in map(chr, range(0xA0, 0x100)):
        assert unicodedata.is_normalized("NFC", a + chars)


def test_encode_mt2_output_takes_the_bulk_path() -> None:
    from datetime import UTC, datetime

    when = datetime(2014, 7, 30, 15, 34, 15, tzinfo=UTC)
    descriptions = [encode_mt2(f"photos/2014/été-{i}.jpg", when) for i in range(100)]
    folders, names, mtimes, sources = decode_many(descriptions, [AID] * 100)
    assert set(folders) == {"photos/2014"} and names[7] == "été-7.jpg"
    assert set(mtimes) == {"2014-07-30T15:34:15Z"} and set(sources) == {"mt2"}
    assert_same(descriptions)
