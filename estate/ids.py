"""Identifier formats of the source systems."""

from __future__ import annotations

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out))


def sf_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce-style id: key prefix, pod, sequence and a 3-letter suffix."""
    suffix = "".join(chr(65 + (n // 26**k) % 26) for k in range(3))
    return f"{prefix}5g0{_base36(n, 9)}{suffix}"
