"""Peer addresses as people know them.

The hub listens on both address families: one IPv6 socket that also accepts IPv4, whose IPv4
peers libzmq names in IPv6's mapped form (``::ffff:10.0.0.7``). Stored and logged addresses stay
plain ``10.0.0.7``, as they were when the hub listened on IPv4 only.
"""
from __future__ import annotations

MAPPED_PREFIX = "::ffff:"


def peer_address(text: str) -> str:
    """``text`` with an IPv4-mapped IPv6 address turned back into the IPv4 address it maps."""
    if text[:len(MAPPED_PREFIX)].lower() == MAPPED_PREFIX and "." in text:
        return text[len(MAPPED_PREFIX):]
    return text
