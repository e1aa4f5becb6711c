"""A credential that cannot leak through ``repr``, ``str``, logs or exceptions."""

from __future__ import annotations

import hashlib
import hmac

from providers.redact import remember

__all__ = ["Secret"]


class Secret:
    """Wraps a key; only :meth:`reveal` gives the value, and only the engine calls it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)  # so no error text can carry it out

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """First 8 hex digits of the key's sha256: tells keys apart, reveals nothing usable."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:8]

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")
