"""The floor: a bare Litestar + aiohttp passthrough of ``POST /v1/images/generations``.

What any gateway on this stack pays at least: msgspec decodes the request into a Struct,
one aiohttp session (a pool as large as the gateway's) sends DashScope's sync call, and
the result URL goes back in OpenAI's shape. No checks, metrics or logs. Served by the
bench with uvicorn, uvloop and httptools, like the gateway.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import msgspec
from litestar import Litestar, Response, post

UPSTREAM = os.environ["DASHSCOPE_BASE_URL"] + "/api/v1/services/aigc/multimodal-generation/generation"
HEADERS = {"Authorization": f"Bearer {os.environ['DASHSCOPE_API_KEY']}", "Content-Type": "application/json"}


class Generation(msgspec.Struct):
    prompt: str
    model: str = "qwen-image-2.0"
    size: str = "1024x1024"


session: list[aiohttp.ClientSession] = []


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4096)))
    yield
    await session.pop().close()


@post("/v1/images/generations", status_code=200)
async def generations(data: Generation) -> Response[bytes]:
    body = {
        "model": data.model,
        "input": {"messages": [{"role": "user", "content": [{"text": data.prompt}]}]},
        "parameters": {"n": 1, "size": data.size.replace("x", "*")},
    }
    async with session[0].post(UPSTREAM, data=msgspec.json.encode(body), headers=HEADERS) as answer:
        result = msgspec.json.decode(await answer.read())
    url = result["output"]["choices"][0]["message"]["content"][0]["image"]
    return Response(msgspec.json.encode({"created": 0, "data": [{"url": url}]}), media_type="application/json")


app = Litestar([generations], lifespan=[lifespan], openapi_config=None, logging_config=None)
