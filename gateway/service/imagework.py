"""Pixel work (decoding, flattening, re-encoding input images) on a small pool of threads.

Off the event loop, so one 8000x8000 image never stalls other clients; and few at a
time, since decoding one such image holds about 450 MB: the pool's size is the bound
on that memory. Work waits its turn in the pool's queue, holding only its input bytes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["ImageWorkers"]

P = ParamSpec("P")
T = TypeVar("T")


class ImageWorkers:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-work")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
