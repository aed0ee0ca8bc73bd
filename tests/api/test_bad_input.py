"""Bad input of every kind is a 413 or a 422 that names the field or the limit, never a 500.

Over a real socket on PostgreSQL, like the rest of the API tests; the body limit is
also driven at the ASGI level, where a Content-Length can lie.
"""

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from judge_service.api.schemas import MAX_METADATA_KEYS, MAX_QUESTION_CHARS, MAX_TRACE_CHARS
from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.client._inputs import encode_pair
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from judge_service.judging.images import MAX_IMAGES
from judge_service.web.limits import MAX_JSON_DEPTH, BodyLimitMiddleware, parse_json
from tests.conftest import create_run

SMALL_LIMIT = 4096


@pytest.fixture(scope="module")
def small_api(pg_settings: Settings) -> Iterator[httpx.Client]:
    """The API with a 4 KiB body limit."""
    settings = pg_settings.model_copy(update={"max_body_bytes": SMALL_LIMIT})
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def _pairs_json(size: int) -> bytes:
    """A pairs body of exactly `size` bytes (a long question)."""
    pair = {**sample_pairs(1)[0], "question": ""}
    padding = size - len(json.dumps({"pairs": [pair]}).encode())
    return json.dumps({"pairs": [{**pair, "question": "q" * padding}]}).encode()


def _assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert f"limit of {SMALL_LIMIT} bytes" in response.json()["detail"]


def test_body_at_the_limit_is_accepted(small_api: httpx.Client) -> None:
    run = create_run(small_api, ["sim"])
    body = _pairs_json(SMALL_LIMIT)
    assert len(body) == SMALL_LIMIT
    response = small_api.post(
        f"/v1/runs/{run['id']}/pairs", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text


def test_body_over_the_limit_is_413_with_content_length(small_api: httpx.Client) -> None:
    run = create_run(small_api, ["sim"])
    response = small_api.post(
        f"/v1/runs/{run['id']}/pairs",
        content=_pairs_json(SMALL_LIMIT + 1),
        headers={"content-type": "application/json"},
    )
    assert response.request.headers["content-length"] == str(SMALL_LIMIT + 1)
    _assert_too_large(response)
    assert small_api.get(f"/v1/runs/{run['id']}").json()["counts"]["pairs"] == 0


def test_body_over_the_limit_is_413_without_content_length(small_api: httpx.Client) -> None:
    run = create_run(small_api, ["sim"])
    body = _pairs_json(SMALL_LIMIT * 3)
    pieces = (body[i : i + 1000] for i in range(0, len(body), 1000))
    response = small_api.post(
        f"/v1/runs/{run['id']}/pairs", content=pieces, headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_too_large(response)
    assert small_api.get(f"/v1/runs/{run['id']}").json()["counts"]["pairs"] == 0


def _asgi_call(
    app: BodyLimitMiddleware, body_chunks: list[bytes], content_length: int
) -> tuple[list[Message], int]:
    """Drive the middleware by hand: its response messages and how many chunks it read."""
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-length", str(content_length).encode())],
    }
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(body_chunks) - 1}
        for i, chunk in enumerate(body_chunks)
    ]
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return incoming[read - 1]

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, read


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers 200 with the body it read."""
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_lying_content_length_does_not_let_a_large_body_in() -> None:
    app = BodyLimitMiddleware(_echo, max_bytes=1000)
    sent, read = _asgi_call(app, [b"x" * 600] * 100, content_length=10)
    assert sent[0]["status"] == 413
    assert b"limit of 1000 bytes" in sent[1]["body"]
    assert read == 2  # stopped reading at the first chunk past the limit


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    app = BodyLimitMiddleware(_echo, max_bytes=1000)
    sent, read = _asgi_call(app, [b"a" * 400, b"b" * 400, b"c" * 200], content_length=1000)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"a" * 400 + b"b" * 400 + b"c" * 200
    assert read == 3


def test_default_limit_admits_one_pair_at_every_field_limit() -> None:
    image = "data:image/png;base64," + "A" * (8_000_000 - len("data:image/png;base64,"))
    pair: dict[str, Any] = {
        "external_id": "x" * 200,
        "question": "q" * MAX_QUESTION_CHARS,
        "baseline_trace": "b" * MAX_TRACE_CHARS,
        "candidate_trace": "c" * MAX_TRACE_CHARS,
        "reference_answer": "r" * MAX_QUESTION_CHARS,
        "image_urls": [image] * MAX_IMAGES,
        "metadata": {f"{i:0100d}": "v" * 1000 for i in range(MAX_METADATA_KEYS)},
    }
    size = len(b'{"pairs":[]}') + len(encode_pair(pair))
    assert size <= Settings().max_body_bytes


def _json_error(response: httpx.Response) -> tuple[list[Any], str]:
    """The location and reason of FastAPI's 422 for a body that is not acceptable JSON."""
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    return error["loc"], error["ctx"]["error"]


def _post_raw(api: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return api.post(path, content=body, headers={"content-type": "application/json"})


def _pair_with(raw_metadata: bytes) -> bytes:
    """A pairs body whose one pair has `raw_metadata` spliced in as its metadata."""
    pair = json.dumps({**sample_pairs(1)[0], "metadata": "@"}).encode()
    return b'{"pairs": [' + pair.replace(b'"@"', raw_metadata) + b"]}"


def test_invalid_utf8_is_422_naming_the_offset(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    body = _pair_with(b'{"modality": "CT \xff\xfe"}')
    offset = body.index(b"\xff")
    loc, reason = _json_error(_post_raw(pg_api, f"/v1/runs/{run['id']}/pairs", body))
    assert loc == ["body", offset]
    assert reason == f"invalid UTF-8: byte 0xff at offset {offset}"
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["pairs"] == 0


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"NaN", "NaN is not a JSON number"),
        (b"Infinity", "Infinity is not a JSON number"),
        (b"-Infinity", "-Infinity is not a JSON number"),
        (b"1e400", "number 1e400 is out of range"),
        (b"1" * 4301, "integer of more than 4300 digits"),
    ],
)
def test_non_finite_and_oversized_numbers_are_422(
    pg_api: httpx.Client, value: bytes, reason: str
) -> None:
    run = create_run(pg_api, ["sim"])
    body = _pair_with(b'{"score": ' + value + b"}")
    assert _json_error(_post_raw(pg_api, f"/v1/runs/{run['id']}/pairs", body))[1] == reason
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["pairs"] == 0


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deep_nesting_is_422(pg_api: httpx.Client, depth: int) -> None:
    run = create_run(pg_api, ["sim"])
    # The pair object sits at depth 3 (body, pairs, pair), its metadata at 4.
    nested = b"[" * (depth - 4) + b"]" * (depth - 4)
    body = _pair_with(b'{"modality": ' + nested + b"}")
    _, reason = _json_error(_post_raw(pg_api, f"/v1/runs/{run['id']}/pairs", body))
    assert reason == "arrays and objects nested more than 32 levels deep"


def test_nesting_at_the_limit_reaches_the_model(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    body = _pair_with(b'{"modality": ' + b"[" * 28 + b"]" * 28 + b"}")
    response = _post_raw(pg_api, f"/v1/runs/{run['id']}/pairs", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:5] == ["body", "pairs", 0, "metadata", "modality"]


def test_every_json_body_is_parsed_strictly(pg_api: httpx.Client) -> None:
    """Each operation that takes a body refuses NaN as JSON, before any model sees it."""
    paths = pg_api.get("/openapi.json").json()["paths"]
    operations = [
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    # runs (create, update), pairs, human labels, plan, rubrics, probes, drift (references,
    # checks)
    assert len(operations) == 9
    for method, path in operations:
        response = pg_api.request(
            method, path, content=b'{"x": NaN}', headers={"content-type": "application/json"}
        )
        assert _json_error(response)[1] == "NaN is not a JSON number", (method, path)


def test_parse_json_keeps_what_json_allows() -> None:
    body = '\ufeff{"emoji": "\\ud83d\\ude00", "x": 1.5, "n": -12}'.encode()
    assert parse_json(body) == {"emoji": "\U0001f600", "x": 1.5, "n": -12}
    deepest = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(deepest) == json.loads(deepest)
    with pytest.raises(json.JSONDecodeError, match="invalid UTF-8: byte 0xff at offset 0"):
        parse_json('{"a": 1}'.encode("utf-16"))  # RFC 8259: JSON between systems is UTF-8
    with pytest.raises(json.JSONDecodeError, match="invalid UTF-8: byte 0xc0 at offset 10"):
        parse_json(b'\xef\xbb\xbf{"a": "\xc0\x80"}')  # an overlong NUL, after a byte order mark


@pytest.fixture(scope="module")
def one_pair(pg_api: httpx.Client) -> dict[str, int]:
    """A run holding one pair: targets for the routes that need them."""
    run = create_run(pg_api, ["sim"])
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(1)}).raise_for_status()
    [item] = pg_api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    return {"run": run["id"], "pair": item["pair_id"]}


RUN = {"name": "n", "baseline": "b", "candidate": "c", "judges": ["sim"]}
RUBRIC = {"name": "bad-input", "overall": "o", "axes": [{"name": "a", "description": "d"}]}


def _pair_body(**change: Any) -> dict[str, Any]:
    return {"pairs": [{**sample_pairs(1)[0], "external_id": "nul", **change}]}


PAIR_LOC = ["body", "pairs", 0]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/runs", {**RUN, "name": "n\x00"}, ["body", "name"]),
        ("/v1/runs", {**RUN, "candidate": "c\x00"}, ["body", "candidate"]),
        ("/v1/runs", {**RUN, "rubric": "general\x00"}, ["body", "rubric"]),
        ("/v1/runs/{run}/pairs", _pair_body(external_id="e\x00"), [*PAIR_LOC, "external_id"]),
        ("/v1/runs/{run}/pairs", _pair_body(question="q\x00"), [*PAIR_LOC, "question"]),
        ("/v1/runs/{run}/pairs", _pair_body(baseline_trace="\x00"), [*PAIR_LOC, "baseline_trace"]),
        (
            "/v1/runs/{run}/pairs",
            _pair_body(reference_answer="r\x00"),
            [*PAIR_LOC, "reference_answer"],
        ),
        (
            "/v1/runs/{run}/pairs",
            _pair_body(image_urls=["https://x.org/\x00.png"]),
            [*PAIR_LOC, "image_urls", 0],
        ),
        (
            "/v1/runs/{run}/pairs",
            _pair_body(metadata={"k\x00": 1}),
            [*PAIR_LOC, "metadata", "k\x00", "[key]"],
        ),
        (
            "/v1/runs/{run}/pairs",
            _pair_body(metadata={"k": "v\x00"}),
            [*PAIR_LOC, "metadata", "k"],
        ),
        (
            "/v1/pairs/{pair}/human-labels",
            {"label": "tie", "annotator": "\x00"},
            ["body", "annotator"],
        ),
        ("/v1/rubrics", {**RUBRIC, "description": "d\x00"}, ["body", "description"]),
        ("/v1/rubrics", {**RUBRIC, "overall": "o\x00"}, ["body", "overall"]),
        (
            "/v1/rubrics",
            {**RUBRIC, "axes": [{"name": "a", "description": "\x00"}]},
            ["body", "axes", 0, "description"],
        ),
    ],
)
def test_nul_in_a_body_field_is_422_naming_it(
    pg_api: httpx.Client, one_pair: dict[str, int], path: str, body: Any, loc: list[Any]
) -> None:
    response = pg_api.post(path.format(**one_pair), json=body)
    assert response.status_code == 422, response.text
    # A metadata value is str | int | float | bool: one error per member; the str one says why.
    named = [error for error in response.json()["detail"] if error["loc"][: len(loc)] == loc]
    assert any("NUL" in e["msg"] or "control characters" in e["msg"] for e in named), named


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", "/v1/runs/{run}/stats?by=modality%00", ["query", "by"]),
        ("POST", "/v1/runs/{run}/retry-failed?reason=timeout%00", ["query", "reason"]),
        ("GET", "/v1/rubrics/general%00", ["path", "name"]),
    ],
)
def test_nul_in_a_query_or_path_is_422_naming_it(
    pg_api: httpx.Client, one_pair: dict[str, int], method: str, path: str, loc: list[str]
) -> None:
    response = pg_api.request(method, path.format(**one_pair))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert "NUL" in error["msg"]


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/runs/{run}/pairs", _pair_body(question="q\ud800"), "pairs.0.question"),
        (
            "/v1/runs/{run}/pairs",
            _pair_body(metadata={"\udfffk": 1}),
            "a key: pairs.0.metadata.\\udfffk",
        ),
        ("/v1/pairs/{pair}/human-labels", {"label": "tie", "annotator": "\udc00"}, "annotator"),
        ("/v1/rubrics", {**RUBRIC, "overall": "\ud83d"}, "overall"),
    ],
)
def test_an_unpaired_surrogate_is_422_naming_where(
    pg_api: httpx.Client, one_pair: dict[str, int], path: str, body: Any, where: str
) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as a \u escape
    _, reason = _json_error(_post_raw(pg_api, path.format(**one_pair), raw))
    assert reason == f"unpaired UTF-16 surrogate escape in {where}"


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", f"/v1/runs/{2**63}", ["path", "run_id"]),
        ("GET", f"/v1/runs/{2**63}/stats", ["path", "run_id"]),
        ("GET", f"/v1/runs/{2**63}/judgments", ["path", "run_id"]),
        ("POST", f"/v1/runs/{2**63}/rerun", ["path", "run_id"]),
        ("POST", f"/v1/runs/{2**63}/retry-failed", ["path", "run_id"]),
        ("GET", f"/v1/pairs/{2**63}/human-labels", ["path", "pair_id"]),
        ("GET", "/v1/runs/0", ["path", "run_id"]),
        ("GET", f"/v1/runs/{{run}}/pairs?after_id={2**63}", ["query", "after_id"]),
        ("GET", f"/v1/rubrics/bad-input?version={2**31}", ["query", "version"]),
        ("GET", f"/v1/leaderboard?runs={{run}},{2**63}", ["query", "runs"]),
    ],
)
def test_ids_past_their_column_are_422_naming_them(
    pg_api: httpx.Client, one_pair: dict[str, int], method: str, path: str, loc: list[str]
) -> None:
    response = pg_api.request(method, path.format(**one_pair))
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


def test_the_largest_ids_are_looked_up(pg_api: httpx.Client) -> None:
    assert pg_api.get(f"/v1/runs/{2**63 - 1}").status_code == 404
    assert pg_api.get(f"/v1/pairs/{2**63 - 1}/human-labels").status_code == 404
    assert pg_api.post("/v1/rubrics", json=RUBRIC).status_code in (200, 201)
    assert pg_api.get(f"/v1/rubrics/bad-input?version={2**31 - 1}").status_code == 404
    body = {**RUN, "rubric": "bad-input", "rubric_version": 2**31}
    response = pg_api.post("/v1/runs", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rubric_version"]


def _many_keys(count: int) -> dict[str, int]:
    return {f"k{i}": i for i in range(count)}


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (
            {"pairs": [{**sample_pairs(1)[0], "external_id": f"p{i}"} for i in range(10_001)]},
            ["body", "pairs"],
            "at most 10000 items",
        ),
        (
            _pair_body(baseline_trace="t" * (MAX_TRACE_CHARS + 1)),
            [*PAIR_LOC, "baseline_trace"],
            "at most 200000",
        ),
        (
            _pair_body(question="q" * (MAX_QUESTION_CHARS + 1)),
            [*PAIR_LOC, "question"],
            "at most 50000",
        ),
        (
            _pair_body(image_urls=["https://x.org/a.png"] * (MAX_IMAGES + 1)),
            [*PAIR_LOC, "image_urls"],
            "at most 8 items",
        ),
        (
            _pair_body(image_urls=["data:image/png;base64," + "A" * 7_000_000]),
            [*PAIR_LOC, "image_urls", 0],
            "the limit is 5242880",
        ),
        (
            _pair_body(metadata=_many_keys(MAX_METADATA_KEYS + 1)),
            [*PAIR_LOC, "metadata"],
            "at most 50 items",
        ),
        (
            _pair_body(metadata={"k" * 101: 1}),
            [*PAIR_LOC, "metadata", "k" * 101, "[key]"],
            "at most 100",
        ),
        (
            _pair_body(metadata={"k": "v" * 1001}),
            [*PAIR_LOC, "metadata", "k"],
            "at most 1000 characters",
        ),
        (_pair_body(metadata={"k": {"nested": 1}}), [*PAIR_LOC, "metadata", "k"], "valid string"),
        (_pair_body(metadata={"k": [1, 2]}), [*PAIR_LOC, "metadata", "k"], "valid string"),
    ],
    ids=[
        "10001-pairs",
        "long-trace",
        "long-question",
        "9-images",
        "image-over-5-MiB",
        "51-metadata-keys",
        "long-metadata-key",
        "long-metadata-value",
        "object-as-metadata-value",
        "list-as-metadata-value",
    ],
)
def test_over_a_limit_is_422_naming_the_field(
    pg_api: httpx.Client, one_pair: dict[str, int], body: Any, loc: list[Any], msg: str
) -> None:
    response = pg_api.post(f"/v1/runs/{one_pair['run']}/pairs", json=body)
    assert response.status_code == 422, response.text[:500]
    named = [error for error in response.json()["detail"] if error["loc"][: len(loc)] == loc]
    assert any(msg in error["msg"] for error in named), [e["msg"] for e in named]
    assert pg_api.get(f"/v1/runs/{one_pair['run']}").json()["counts"]["pairs"] == 1
