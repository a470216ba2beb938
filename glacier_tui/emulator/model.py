"""The botocore glacier model drives routing, request parsing and response serialising."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.loaders

from glacier_tui.emulator.errors import GlacierError
from glacier_tui.emulator.json_body import load_json_object


def snake(name: str) -> str:
    """CamelCase operation name -> snake_case handler name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Member:
    name: str
    shape: str
    type: str
    location: str | None
    location_name: str


@dataclass
class Operation:
    name: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    fixed_query: tuple[tuple[str, str], ...]
    status: int
    input_members: list[Member] = field(default_factory=list)
    input_payload: Member | None = None
    output_members: list[Member] = field(default_factory=list)
    output_payload: Member | None = None

    @property
    def handler(self) -> str:
        return snake(self.name)

    @property
    def streaming_input(self) -> bool:
        return self.input_payload is not None and self.input_payload.type == "blob"

    @property
    def streaming_output(self) -> bool:
        return self.output_payload is not None and self.output_payload.type == "blob"


class ServiceModel:
    """Routes compiled from the model's URI templates, plus shape-driven (de)serialising."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.shapes: Mapping[str, Any] = raw["shapes"]
        self.operations: dict[str, Operation] = {}
        for name, op in raw["operations"].items():
            self.operations[name] = self._compile(name, op)
        # Most specific first: templates with fixed query parts beat bare ones.
        self._routes = sorted(self.operations.values(), key=lambda o: -len(o.fixed_query))

    def _members(self, shape_name: str | None) -> tuple[list[Member], Member | None]:
        if not shape_name:
            return [], None
        shape = self.shapes[shape_name]
        out = []
        for mname, m in shape["members"].items():
            out.append(
                Member(
                    name=mname,
                    shape=m["shape"],
                    type=self.shapes[m["shape"]]["type"],
                    location=m.get("location"),
                    location_name=m.get("locationName", mname),
                )
            )
        payload_name = shape.get("payload")
        payload = next((m for m in out if m.name == payload_name), None)
        return out, payload

    def _compile(self, name: str, op: Mapping[str, Any]) -> Operation:
        http = op["http"]
        uri: str = http["requestUri"]
        path, _, query = uri.partition("?")
        labels: list[str] = []

        def label(match: re.Match[str]) -> str:
            labels.append(match.group(1).rstrip("+"))
            return "([^/]+)"

        regex = re.sub(
            r"\{([^}]+)\}", label, re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        )
        inp, inp_payload = self._members(op.get("input", {}).get("shape"))
        out, out_payload = self._members(op.get("output", {}).get("shape"))
        return Operation(
            name=name,
            method=http["method"],
            pattern=re.compile("^" + regex + "/?$"),
            labels=tuple(labels),
            fixed_query=tuple(parse_qsl(query, keep_blank_values=True)),
            status=int(http.get("responseCode", 200)),
            input_members=inp,
            input_payload=inp_payload,
            output_members=out,
            output_payload=out_payload,
        )

    def route(
        self, method: str, raw_path: str, query: Mapping[str, str]
    ) -> tuple[Operation, dict[str, str]]:
        """Match on the raw (still percent-encoded) path; decode each label on its own."""
        path = raw_path.split("?", 1)[0]
        path_matched = False
        for op in self._routes:
            m = op.pattern.match(path)
            if not m:
                continue
            if any(query.get(k) != v for k, v in op.fixed_query):
                continue
            path_matched = True
            if op.method != method:
                continue
            return op, {lbl: unquote(v) for lbl, v in zip(op.labels, m.groups(), strict=True)}
        if path_matched:
            raise GlacierError("BadRequest", f"Method {method} not allowed on {path}", 405)
        raise GlacierError("UnknownOperationException", f"No operation matches {method} {path}")

    def parse(
        self,
        op: Operation,
        labels: Mapping[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> dict[str, Any]:
        """Build the operation's input dict from URI, query, headers and JSON body."""
        params: dict[str, Any] = {}
        body_doc: Any = None
        if body and not op.streaming_input:
            body_doc = load_json_object(body)
        for m in op.input_members:
            if m.location == "uri":
                params[m.name] = labels.get(m.location_name)
            elif m.location == "querystring":
                if m.location_name in query:
                    params[m.name] = query[m.location_name]
            elif m.location == "header":
                value = headers.get(m.location_name.lower())
                if value is not None:
                    params[m.name] = value
            elif m is op.input_payload:
                if m.type == "structure":
                    params[m.name] = body_doc if body_doc is not None else None
            elif body_doc is not None and m.name in body_doc:
                params[m.name] = body_doc[m.name]
        return params

    def serialise(
        self, op: Operation, result: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        """Split an output dict into (status, headers, JSON-able body or stream value)."""
        status = op.status
        headers: dict[str, str] = {}
        doc: dict[str, Any] = {}
        payload: Any = None
        for m in op.output_members:
            value = result.get(m.name)
            if value is None:
                continue
            if m.location == "header":
                headers[m.location_name] = _header_value(value)
            elif m.location == "statusCode":
                status = int(value)
            elif m is op.output_payload:
                payload = value
            else:
                doc[m.name] = value
        if op.output_payload is not None:
            if op.output_payload.type == "structure":
                return status, headers, _drop_none(payload) if payload is not None else {}
            return status, headers, payload
        if status == 204 or not op.output_members or all(m.location for m in op.output_members):
            return status, headers, None
        return status, headers, _drop_none(doc)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


@lru_cache(maxsize=1)
def load_model() -> ServiceModel:
    raw = botocore.loaders.Loader().load_service_model("glacier", "service-2")
    return ServiceModel(raw)
