"""Result storage: every image the gateway returns is a copy it keeps, on local disk or an S3
server, so its URL still serves the image after the provider has forgotten it."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from PIL import Image

from tests.conftest import TEST_CONFIG, GatewayFactory, openai_client
from tests.e2e.test_jobs import ASYNC, submit, wait_for
from tests.servers import S3Server, Server, new_key, start_emulator, start_s3

URL_SECRET = new_key("storage-url-secret-")
S3_SECRET = new_key("s3-secret-")
S3_ACCESS = "AKIAGATEWAYTESTS0001"
BUCKET = "gateway-images"


def _config(storage: str, *, keys: bool = True) -> str:
    text = TEST_CONFIG % {"deadline": 30} + "storage:\n" + "".join(f"  {line}\n" for line in storage.splitlines())
    if keys:
        text += "keys:\n  - {name: team-a, key: '${TEAM_A_KEY}'}\n"
    return text


TEAM_A = new_key("sk-team-a-")


def _local(directory: Path, extra: str = "") -> str:
    return _config(f"kind: local\ndirectory: {directory}\nurl_secret: ${{STORAGE_URL_SECRET}}\n{extra}")


def _fetch(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.fixture(scope="module")
def own_emulator() -> Iterator[Server]:
    """An emulator of this module's own, so stopping it ("the provider forgot") touches no other test."""
    key = new_key()
    server = start_emulator("cn", key)
    server.key = key  # type: ignore[attr-defined]
    yield server
    server.stop()


def _start(factory: GatewayFactory, config: str, emulator: Server, **env: str) -> Server:
    return factory(
        config,
        DASHSCOPE_BASE_URL=emulator.url,
        DASHSCOPE_API_KEY=emulator.key,  # type: ignore[attr-defined]
        STORAGE_URL_SECRET=URL_SECRET,
        TEAM_A_KEY=TEAM_A,
        S3_ACCESS_KEY_ID=S3_ACCESS,
        S3_SECRET_ACCESS_KEY=S3_SECRET,
        **env,
    )


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="module")
def local_gateway(gateway_factory: GatewayFactory, own_emulator: Server, store_dir: Path) -> Server:
    return _start(gateway_factory, _local(store_dir), own_emulator)


def _stored(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".meta.json"))


def test_url_answers_point_at_the_stored_copy(local_gateway: Server, store_dir: Path) -> None:
    client = openai_client(local_gateway, api_key=TEAM_A)
    raw = client.images.with_raw_response.generate(model="wan2.7-image", prompt="a lighthouse", n=2, size="1024x768")
    answer = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert len(answer.data) == 2
    day = time.strftime("%Y/%m/%d", time.gmtime())
    for index, image in enumerate(answer.data):
        assert image.url is not None
        parts = urlsplit(image.url)
        assert f"{parts.scheme}://{parts.netloc}" == local_gateway.url
        assert parts.path == f"/v1/images/files/{day}/{request_id}-{index}.png"
        query = parse_qs(parts.query)
        assert int(query["expires"][0]) > time.time() + 6 * 86400  # 7 days by default
        fetched = _fetch(image.url)
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        assert _size(fetched.content) == (1024, 768)
        on_disk = store_dir / day / f"{request_id}-{index}.png"
        assert on_disk.read_bytes() == fetched.content
        meta = json.loads((on_disk.parent / (on_disk.name + ".meta.json")).read_text())
        assert meta["model"] == "wan2.7-image" and meta["client"] == "team-a"
        assert TEAM_A not in json.dumps(meta)


def test_b64_answers_are_stored_too(local_gateway: Server, store_dir: Path) -> None:
    before = len(_stored(store_dir))
    answer = openai_client(local_gateway, api_key=TEAM_A).images.generate(
        model="wan2.7-image", prompt="a harbour", n=1, size="1024x1024", response_format="b64_json"
    )
    assert answer.data[0].b64_json
    stored = _stored(store_dir)
    assert len(stored) == before + 1
    assert base64.b64decode(answer.data[0].b64_json) in {p.read_bytes() for p in stored}


def test_job_results_are_stored_and_named_by_the_job(local_gateway: Server) -> None:
    headers = {**ASYNC, "authorization": f"Bearer {TEAM_A}"}
    response = submit(
        local_gateway,
        {"model": "wanx2.1-t2i-turbo", "prompt": "a kite", "n": 1, "size": "1024x1024"},
        headers,
    )
    assert response.status_code == 202
    job = wait_for(local_gateway, response.headers["location"], headers=headers)
    assert job["status"] == "succeeded"
    url = job["data"][0]["url"]
    assert f"/v1/images/files/{time.strftime('%Y/%m/%d', time.gmtime())}/{job['id']}-0.png?" in url
    assert _fetch(url).status_code == 200


def test_streamed_images_are_stored(local_gateway: Server, store_dir: Path) -> None:
    before = len(_stored(store_dir))
    stream = openai_client(local_gateway, api_key=TEAM_A).images.generate(
        model="wan2.7-image", prompt="a comet", n=1, size="1024x1024", stream=True
    )
    events = [event.type for event in stream]
    assert events[-1] == "image_generation.completed"
    assert len(_stored(store_dir)) == before + 1


def test_chat_images_link_the_stored_copy(local_gateway: Server) -> None:
    reply = openai_client(local_gateway, api_key=TEAM_A).chat.completions.create(
        model="wan2.7-image", messages=[{"role": "user", "content": "draw a teapot"}]
    )
    content = reply.choices[0].message.content or ""
    assert f"({local_gateway.url}/v1/images/files/" in content


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_a_tampered_url_is_refused(local_gateway: Server) -> None:
    url = openai_client(local_gateway, api_key=TEAM_A).images.generate(prompt="a bridge", n=1).data[0].url
    assert url is not None
    name_changed = url.replace("-0.png", "-1.png")
    expiry_changed = url.replace("expires=", "expires=9")
    signature_changed = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for bad in (name_changed, expiry_changed, signature_changed, url.split("?")[0]):
        response = _fetch(bad)
        assert response.status_code == 403, bad
        assert _error(response)["code"] == "invalid_signature"
    assert _fetch(url.split("expires=")[0] + "expires=%C2%B9&signature=x").status_code == 403  # "¹" is no expiry
    for path in ("/v1/images/files/../../etc/passwd", "/v1/images/files/2026/01/01/x-0.png.meta.json"):
        assert httpx.get(local_gateway.url + path).status_code == 404


def test_an_expired_url_is_refused(gateway_factory: GatewayFactory, own_emulator: Server, tmp_path: Path) -> None:
    gateway = _start(gateway_factory, _local(tmp_path, "url_ttl_seconds: 1"), own_emulator)
    url = openai_client(gateway, api_key=TEAM_A).images.generate(prompt="a clock", n=1).data[0].url
    assert url is not None and _fetch(url).status_code == 200
    time.sleep(2.1)
    response = _fetch(url)
    assert response.status_code == 403 and _error(response)["code"] == "url_expired"


def test_public_base_url_is_the_origin_of_every_url(
    gateway_factory: GatewayFactory, own_emulator: Server, tmp_path: Path
) -> None:
    extra = "public_base_url: https://images.example.com/gw\nprefix: team/"
    gateway = _start(gateway_factory, _local(tmp_path, extra), own_emulator)
    url = openai_client(gateway, api_key=TEAM_A).images.generate(prompt="a tram", n=1).data[0].url
    assert url is not None and url.startswith("https://images.example.com/gw/v1/images/files/team/")
    path_and_query = url.removeprefix("https://images.example.com/gw")
    assert _fetch(gateway.url + path_and_query).status_code == 200
    assert len(_stored(tmp_path / "team")) == 1


def test_a_failed_store_fails_loudly_and_is_not_paid_twice(
    gateway_factory: GatewayFactory, own_emulator: Server, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's folder should be")
    gateway = _start(gateway_factory, _local(blocker / "images"), own_emulator)
    httpx.delete(own_emulator.url + "/__emulator__/requests")
    client = openai_client(gateway, api_key=TEAM_A, max_retries=2)
    with pytest.raises(Exception) as caught:
        client.images.generate(model="wan2.7-image", prompt="a vase", n=2)
    response = caught.value.response  # type: ignore[attr-defined]
    assert response.status_code == 502
    error = _error(response)
    assert error["code"] == "storage_failed" and "made 2 image(s)" in error["message"]
    assert response.headers["x-should-retry"] == "false"
    posts = [r for r in httpx.get(own_emulator.url + "/__emulator__/requests").json() if r["method"] == "POST"]
    assert len(posts) == 1  # one upstream call: neither the gateway nor the SDK paid again


def test_stored_urls_outlive_the_provider(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    key = new_key()
    emulator = start_emulator("cn", key)
    emulator.key = key  # type: ignore[attr-defined]
    gateway = _start(gateway_factory, _local(tmp_path), emulator)
    url = openai_client(gateway, api_key=TEAM_A).images.generate(prompt="a glacier", n=1, size="1024x1024").data[0].url
    # The provider's own URLs die after 24 h; here the provider forgets everything at once.
    httpx.post(emulator.url + "/__emulator__/clock", json={"advance_seconds": 25 * 3600})
    emulator.stop()
    assert url is not None
    response = _fetch(url)
    assert response.status_code == 200 and _size(response.content) == (1024, 1024)


# --- S3: a real S3-compatible server (moto) on loopback ---------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    server = start_s3()
    s3 = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS,
        aws_secret_access_key=S3_SECRET,
    )
    s3.create_bucket(Bucket=BUCKET)
    server.client = s3  # type: ignore[attr-defined]
    yield server
    server.stop()


def _s3(server: S3Server, extra: str = "") -> str:
    return _config(
        f"kind: s3\nendpoint: {server.url}\nbucket: {BUCKET}\nregion: us-east-1\nprefix: images/\n"
        "addressing_style: path\naccess_key_id: ${S3_ACCESS_KEY_ID}\nsecret_access_key: ${S3_SECRET_ACCESS_KEY}\n"
        + extra
    )


def test_s3_presigned_urls_serve_the_image_after_the_provider_forgot(
    gateway_factory: GatewayFactory, s3_server: S3Server
) -> None:
    key = new_key()
    emulator = start_emulator("cn", key)
    emulator.key = key  # type: ignore[attr-defined]
    gateway = _start(gateway_factory, _s3(s3_server), emulator)
    raw = openai_client(gateway, api_key=TEAM_A).images.with_raw_response.generate(
        model="wan2.7-image", prompt="an orchard", n=2, size="1280x720"
    )
    answer, request_id = raw.parse(), raw.headers["x-request-id"]
    emulator.stop()
    day = time.strftime("%Y/%m/%d", time.gmtime())
    for index, image in enumerate(answer.data):
        assert image.url is not None
        parts = urlsplit(image.url)
        assert image.url.startswith(f"{s3_server.url}/{BUCKET}/images/{day}/{request_id}-{index}.png?")
        assert "X-Amz-Signature" in parse_qs(parts.query)
        assert S3_SECRET not in image.url
        fetched = _fetch(image.url)  # plain HTTP, no credentials: the presigned URL is enough
        assert fetched.status_code == 200 and _size(fetched.content) == (1280, 720)
        head = s3_server.client.head_object(Bucket=BUCKET, Key=f"images/{day}/{request_id}-{index}.png")  # type: ignore[attr-defined]
        assert head["ContentType"] == "image/png"
        assert head["Metadata"]["model"] == "wan2.7-image" and head["Metadata"]["client"] == "team-a"
    unsigned = answer.data[0].url.split("?")[0]  # type: ignore[union-attr]
    assert _fetch(unsigned).status_code == 403  # the bucket is private: only the signature opens it


def test_s3_public_urls(gateway_factory: GatewayFactory, s3_server: S3Server, own_emulator: Server) -> None:
    gateway = _start(
        gateway_factory, _s3(s3_server, "url: public\npublic_base_url: https://cdn.example.com"), own_emulator
    )
    url = openai_client(gateway, api_key=TEAM_A).images.generate(prompt="a dune", n=1).data[0].url
    assert url is not None and url.startswith("https://cdn.example.com/images/") and "?" not in url
    name = url.removeprefix("https://cdn.example.com/")
    assert s3_server.client.head_object(Bucket=BUCKET, Key=name)["ContentLength"] > 0  # type: ignore[attr-defined]


def test_s3_unreachable_is_a_502_naming_the_store(
    gateway_factory: GatewayFactory, s3_server: S3Server, own_emulator: Server
) -> None:
    config = _s3(s3_server).replace(f"bucket: {BUCKET}", "bucket: no-such-bucket")
    gateway = _start(gateway_factory, config, own_emulator)
    response = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"prompt": "a mill", "n": 1},
        headers={"authorization": f"Bearer {TEAM_A}"},
        timeout=30,
    )
    assert response.status_code == 502
    error = _error(response)
    assert error["code"] == "storage_failed" and "NoSuchBucket" in error["message"]
    assert S3_SECRET not in response.text and S3_ACCESS not in response.text
