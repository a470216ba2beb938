"""An aiohttp AppRunner whose request parser lets control characters through header values.

aiohttp's strict parser answers a header value holding, say, ``\\x01`` or ``\\x7f`` with a
text/plain 400 before any handler runs, so a client would see the bare code "400". AWS
answers a bad ``x-amz-archive-description`` with a JSON InvalidParameterValueException
(descriptions are ASCII 0x20-0x7E:
https://docs.aws.amazon.com/amazonglacier/latest/dev/api-archive-post.html). Here the
pure-Python parser reads header values leniently (CR, LF and NUL are still refused, so
requests cannot be split) and the handlers validate the values themselves.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import http_parser, web, web_protocol, web_server


class _LenientRequestParser(http_parser.HttpRequestParserPy):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # lax=True on the header parser only: it then refuses just CR, LF and NUL in values.
        self._headers_parser = http_parser.HeadersParser(
            self.max_line_size, self.max_headers, self.max_field_size, True
        )


class _LenientRequestHandler(web_protocol.RequestHandler):
    def __init__(
        self, manager: web_server.Server, *, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._parser = _LenientRequestParser(
            self,
            loop,
            self._read_bufsize,
            max_line_size=kwargs.get("max_line_size", 8190),
            max_field_size=kwargs.get("max_field_size", 8190),
            max_headers=kwargs.get("max_headers", 128),
            payload_exception=web_protocol.RequestPayloadError,
            auto_decompress=kwargs.get("auto_decompress", True),
            max_msg_queue_size=web_protocol.MAX_MSG_QUEUE_SIZE,
        )


class _LenientServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _LenientRequestHandler(self, loop=self._loop, **self._kwargs)


class LenientAppRunner(web.AppRunner):
    """``web.AppRunner`` serving every connection with the lenient request parser."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _LenientServer  # same object, only __call__ differs
        return server

