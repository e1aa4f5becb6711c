"""The cost of storing an image: the same generation answered with storage off, on local
disk and on an S3-compatible server (moto on loopback), against a direct call.

Starts the DashScope emulator, moto and three gateways as real processes on loopback.
Each round asks each side for one image (``url`` answer), in rotating order:

* direct: the emulator's sync call, then the download of its result URL (what storing
  costs at least: the gateway must fetch the image to keep it);
* none: the gateway without storage (the answer carries the emulator's URL, no download);
* local / s3: the gateway copying the image into the store before answering.

Medians over the rounds; each storing side's cost per image is its median minus the
"none" median. Run: ``.venv/bin/python bench/storage.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import boto3
import httpx
from common import SYNC_CONFIG, SYNC_MODEL

from tests.servers import new_key, start_emulator, start_gateway, start_s3

DIRECT_PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def direct(client: httpx.Client, url: str, key: str, prompt: str, size: str) -> float:
    started = time.perf_counter()
    body = {
        "model": SYNC_MODEL,
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": {"size": size.replace("x", "*"), "n": 1},
    }
    answer = client.post(url + DIRECT_PATH, json=body, headers={"authorization": f"Bearer {key}"}).json()
    image = answer["output"]["choices"][0]["message"]["content"][0]["image"]
    assert client.get(image).content[:4] == b"\x89PNG"
    return time.perf_counter() - started


def via_gateway(client: httpx.Client, url: str, prompt: str, size: str) -> float:
    started = time.perf_counter()
    body = {"model": SYNC_MODEL, "prompt": prompt, "size": size, "n": 1}
    answer = client.post(url + "/v1/images/generations", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"][0]["url"]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.05, help="the emulator's seconds per image")
    parser.add_argument("--size", default="2048x2048")
    args = parser.parse_args()
    key, secret = new_key(), new_key("bench-s3-")
    emulator = start_emulator("cn", key, latency=args.latency)
    s3 = start_s3()
    boto3.client(
        "s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id="AKIABENCH", aws_secret_access_key=secret
    ).create_bucket(Bucket="bench")
    env = {
        "DASHSCOPE_BASE_URL": emulator.url,
        "DASHSCOPE_API_KEY": key,
        "STORAGE_URL_SECRET": new_key("bench-url-secret-"),
        "S3_SECRET": secret,
    }
    directory = tempfile.mkdtemp(prefix="bench-images-")
    stores = {
        "none": "",
        "local": f"storage: {{kind: local, directory: {directory}, url_secret: '${{STORAGE_URL_SECRET}}'}}\n",
        "s3": (
            f"storage: {{kind: s3, endpoint: '{s3.url}', bucket: bench, addressing_style: path,"
            " access_key_id: AKIABENCH, secret_access_key: '${S3_SECRET}'}\n"
        ),
    }
    gateways = {name: start_gateway(env, SYNC_CONFIG + extra) for name, extra in stores.items()}
    times: dict[str, list[float]] = {"direct": [], **{name: [] for name in gateways}}
    try:
        with httpx.Client(timeout=60) as client:
            runs: list[tuple[str, Callable[[str], float]]] = [
                ("direct", lambda p: direct(client, emulator.url, key, p, args.size))
            ]
            for name, gateway in gateways.items():
                runs.append((name, lambda p, url=gateway.url: via_gateway(client, url, p, args.size)))
            for index in range(args.rounds + 3):
                shift = index % len(runs)
                for name, run in runs[shift:] + runs[:shift]:
                    elapsed = run(f"a fox {index} {name}")  # distinct: nothing is shared or cached
                    if index >= 3:  # warm-up rounds are not counted
                        times[name].append(elapsed)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        s3.stop()
        emulator.stop()
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"one {args.size} image per request, medians of {args.rounds} rounds, emulator latency {args.latency:g} s")
    print(" | ".join(f"{name} {ms:.1f} ms (x{ms / median['direct']:.3f} direct)" for name, ms in median.items()))
    for name in ("local", "s3"):
        print(f"storing on {name}: +{median[name] - median['none']:.1f} ms per image over no storage")


if __name__ == "__main__":
    main()
