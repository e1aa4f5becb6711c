"""Time to image: a streamed generation against the same generation answered as one JSON body.

Starts the DashScope emulator and the gateway as real processes on loopback. Each round
asks for one image four ways, in rotating order:

* direct: the emulator's sync call, then the download of its result URL (what the
  gateway does for b64_json), as a client talking to DashScope itself would;
* gateway JSON: ``/v1/images/generations`` with ``response_format: b64_json``;
* gateway stream: the same with ``stream: true``, timed to the end of the
  ``image_generation.completed`` event (the image's last byte);
* chat stream: ``/v1/chat/completions`` with ``stream: true``, timed to the image's last
  byte: the chunk carrying its URL, then the download, as a chat client shows it.

Medians over the rounds, and their ratios. Run: ``.venv/bin/python bench/streaming.py``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import httpx
from common import SYNC_CONFIG, SYNC_MODEL

from tests.servers import new_key, start_emulator, start_gateway

DIRECT_PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def direct(client: httpx.Client, url: str, key: str, prompt: str) -> float:
    started = time.perf_counter()
    body = {"model": SYNC_MODEL, "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]}}
    answer = client.post(url + DIRECT_PATH, json=body, headers={"authorization": f"Bearer {key}"}).json()
    image = answer["output"]["choices"][0]["message"]["content"][0]["image"]
    assert client.get(image).content[:4] == b"\x89PNG"
    return time.perf_counter() - started


def gateway_json(client: httpx.Client, url: str, prompt: str) -> float:
    started = time.perf_counter()
    body = {"model": SYNC_MODEL, "prompt": prompt, "response_format": "b64_json", "output_format": "png"}
    answer = client.post(url + "/v1/images/generations", json=body).json()
    assert answer["data"][0]["b64_json"]
    return time.perf_counter() - started


def gateway_stream(client: httpx.Client, url: str, prompt: str) -> float:
    started = time.perf_counter()
    body = {"model": SYNC_MODEL, "prompt": prompt, "stream": True}
    with client.stream("POST", url + "/v1/images/generations", json=body) as response:
        text = b"".join(response.iter_bytes())
    assert b"image_generation.completed" in text
    return time.perf_counter() - started


_IMAGE_URL = re.compile(r"\]\((http[^)\s]+)\)")


def chat_stream(client: httpx.Client, url: str, prompt: str) -> float:
    started = time.perf_counter()
    body = {"model": SYNC_MODEL, "messages": [{"role": "user", "content": prompt}], "stream": True}
    image = None
    with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            found = _IMAGE_URL.search(line) if image is None else None
            if found:
                image = found.group(1)
    assert image is not None
    assert client.get(image).content[:4] == b"\x89PNG"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.2, help="the emulator's seconds per image")
    args = parser.parse_args()
    key = new_key()
    emulator = start_emulator("cn", key, latency=args.latency)
    gateway = start_gateway({"DASHSCOPE_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": key}, SYNC_CONFIG)
    times: dict[str, list[float]] = {"direct": [], "json": [], "stream": [], "chat": []}
    try:
        with httpx.Client(timeout=60) as client:
            for index in range(args.rounds + 3):
                prompt = f"a fox {index}"  # distinct: nothing is shared or cached between rounds
                runs = [
                    ("direct", lambda p: direct(client, emulator.url, key, p)),
                    ("json", lambda p: gateway_json(client, gateway.url, p)),
                    ("stream", lambda p: gateway_stream(client, gateway.url, p)),
                    ("chat", lambda p: chat_stream(client, gateway.url, p)),
                ]
                for name, run in runs[index % 4 :] + runs[: index % 4]:
                    elapsed = run(f"{prompt} {name}")
                    if index >= 3:  # warm-up rounds are not counted
                        times[name].append(elapsed)
    finally:
        gateway.stop()
        emulator.stop()
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"time to image, medians of {args.rounds} rounds, emulator latency {args.latency:g} s")
    print(
        f"direct {median['direct']:.1f} ms | gateway JSON {median['json']:.1f} ms "
        f"(x{median['json'] / median['direct']:.3f}) | gateway stream {median['stream']:.1f} ms "
        f"(x{median['stream'] / median['direct']:.3f}) | stream / JSON x{median['stream'] / median['json']:.3f} | "
        f"chat stream {median['chat']:.1f} ms (x{median['chat'] / median['direct']:.3f})"
    )


if __name__ == "__main__":
    main()
