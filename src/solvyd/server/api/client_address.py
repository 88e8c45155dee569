"""The client's address for the login throttle and the audit log, behind reverse proxies.

Each proxy appends the address it got the request from to `X-Forwarded-For`, so only the
entries from the right that trusted proxies appended can be believed; whatever the client
sent comes first and proves nothing. So: the connection's address, unless it is a trusted
proxy (`SOLVYD_TRUSTED_PROXIES`); then, walking the header from the right, the first address
that is not a trusted proxy. None are trusted by default, so a client that talks to the server
directly (or over loopback) cannot choose the address it is counted and recorded under.
"""

import ipaddress
from collections.abc import Sequence

from pydantic import IPvAnyNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPvAnyNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IPvAnyNetwork]
) -> str | None:
    """`peer` is the connection's address, `forwarded_for` the X-Forwarded-For header values
    in the order received."""
    if peer is None or not proxies:
        return peer
    hop = _parse(peer)
    if hop is None or not _trusted(hop, proxies):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    for entry in reversed(entries):
        address = _parse(entry)
        if address is None:
            # Not an address: nothing left of it can be believed; the last proxy that
            # handed it on is the best known.
            return str(hop)
        if not _trusted(address, proxies):
            return str(address)
        hop = address
    return str(hop)  # every hop a trusted proxy: the first of them
