"""Edit requests without a server: multipart image order, JSON image shapes."""

from __future__ import annotations

import pytest

from gateway.http.multipart import Form
from gateway.service.references import json_references
from gateway.wire.images import EditRequest
from providers.errors import InvalidRequest, UnsupportedParameter


def test_multipart_images_are_ordered_by_name_then_index() -> None:
    form = Form(
        parts=[
            ("image[10]", None, "u10", None),
            ("image[2]", b"two", None, "b.png"),
            ("image[]", None, "list", None),
            ("image", b"one", None, "a.png"),
        ]
    )
    refs = form.images
    assert [(r.uri, r.data) for r in refs] == [(None, b"one"), ("list", None), (None, b"two"), ("u10", None)]
    assert [r.label for r in refs] == ["image 1 (a.png)", "image 2", "image 3 (b.png)", "image 4"]


def test_json_image_shapes() -> None:
    req = EditRequest(
        prompt="p",
        image="https://x/1.png",
        images=[
            {"image_url": "https://x/2.png"},
            {"image_url": {"url": "https://x/3.png"}},
            {"url": "https://x/4.png"},
        ],
    )
    assert [r.uri for r in json_references(req)] == [f"https://x/{i}.png" for i in range(1, 5)]
    assert json_references(EditRequest(prompt="p")) == []
    with pytest.raises(UnsupportedParameter):
        json_references(EditRequest(prompt="p", images=[{"file_id": "file-1"}]))
    with pytest.raises(InvalidRequest) as info:
        json_references(EditRequest(prompt="p", image=[42]))
    assert info.value.param == "image"
