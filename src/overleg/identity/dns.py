"""TXT record look-ups for domain verification (dnspython, async)."""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver


def _resolver(nameservers: list[str]) -> dns.asyncresolver.Resolver:
    if not nameservers:
        return dns.asyncresolver.Resolver()
    r = dns.asyncresolver.Resolver(configure=False)
    servers: list[dns.nameserver.Nameserver] = []
    for entry in nameservers:
        host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        servers.append(dns.nameserver.Do53Nameserver(host or entry, int(port or 53)))
    r.nameservers = servers
    return r


async def txt_records(domain: str, nameservers: list[str], lifetime: float = 5.0) -> list[str]:
    """The TXT strings published at ``domain``; [] when there are none.

    Raises ``LookupError`` when DNS could not be asked (timeout, no servers).
    """
    try:
        answer = await _resolver(nameservers).resolve(domain, "TXT", lifetime=lifetime)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as e:
        raise LookupError(f"DNS lookup for {domain} failed: {type(e).__name__}") from e
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
