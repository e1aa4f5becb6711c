"""``multipart/form-data`` bodies as the openai SDK sends them.

One image arrives as ``image``, several as repeated ``image[]`` parts (the SDK's
``array_format="brackets"``); other clients send ``image[0]``, ``images[]`` or a
URL string instead of a file (LiteLLM issue #26552's "expected a file, but got a
string"). All of these are accepted; ``image[N]`` parts are ordered by N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException

from gateway.service.references import Reference
from providers.errors import InvalidRequest

__all__ = ["Form", "read_form"]

_IMAGE_FIELD = re.compile(r"^images?(?:\[(\d*)\])?$")
_MASK_FIELD = re.compile(r"^mask(?:\[\d*\])?$")
#: The parser groups parts by name, so order across names is restored from the names:
#: image, image[], images, images[] first, then image[0], image[1], ... by index.
_UNINDEXED = {"image": 0, "image[]": 1, "images": 2, "images[]": 3}


@dataclass(slots=True)
class Form:
    #: Text fields (the last value wins when one repeats).
    fields: dict[str, str] = field(default_factory=dict)
    #: The ``mask`` sent (a file, or a URL or data: URI as text), None when none was.
    mask: Reference | None = None
    #: (field name, bytes of a file or None, URL text or None, file name), in arrival order per name.
    parts: list[tuple[str, bytes | None, str | None, str | None]] = field(default_factory=list)

    @property
    def images(self) -> list[Reference]:
        def order(part: tuple[str, bytes | None, str | None, str | None]) -> tuple[int, int]:
            name = part[0]
            if name in _UNINDEXED:
                return 0, _UNINDEXED[name]
            match = _IMAGE_FIELD.match(name)
            return 1, int(match.group(1)) if match and match.group(1) else 0

        refs = []
        for number, (_, data, uri, filename) in enumerate(sorted(self.parts, key=order), start=1):
            label = f"image {number}" + (f" ({filename})" if filename else "")
            refs.append(Reference(label, data=data, uri=uri))
        return refs


async def _add(form: Form, name: str, value: Any) -> None:
    if isinstance(value, UploadFile):
        data = await value.read()
        if _MASK_FIELD.match(name):
            if data:
                form.mask = Reference("the mask", data=data)
        elif _IMAGE_FIELD.match(name):
            form.parts.append((name, data, None, value.filename))
        return  # files under other names are not ours to interpret
    text = str(value)
    if _MASK_FIELD.match(name):
        if text.strip():
            form.mask = Reference("the mask", uri=text.strip())
    elif _IMAGE_FIELD.match(name):
        if text.strip():
            form.parts.append((name, None, text, None))
    else:
        form.fields[name] = text


async def read_form(request: Request[Any, Any, Any]) -> Form:
    """The form's fields and images. Raises InvalidRequest for a malformed body (413 passes through)."""
    try:
        multi = await request.form()
    except ClientException as exc:
        if exc.status_code != 400:
            raise
        raise InvalidRequest(f"The multipart/form-data body cannot be parsed ({exc.detail})") from None
    form = Form()
    try:
        for name, value in multi.multi_items():
            await _add(form, name, value)
    finally:
        for _, value in multi.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
    return form
