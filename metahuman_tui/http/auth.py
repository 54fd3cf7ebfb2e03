"""Who may call the API: the bearer token and the Host check (DESIGN §11, original.md §10 ⚠).

Rules, decided once per request by the guard (guard.py):
* every write (any method but GET/HEAD/OPTIONS) needs `Authorization: Bearer <token>`;
* when the server is bound to a non-loopback address, every request needs it;
* when bound to loopback, the Host header must name a loopback host, so a web page that rebinds
  its own DNS name to 127.0.0.1 cannot read the API from a browser (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from metahuman_core.api_token import bearer, check_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
TOKEN_HEADER_HELP = 'add -H "Authorization: Bearer $(cat etc/secrets/api-token)"'


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (what `mh serve` may bind without a token rule)."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a Host header value: "localhost:4321" → "localhost", "[::1]:80" → "::1"."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end != -1 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


@dataclass(frozen=True)
class AccessPolicy:
    """How strict this server is. Built by `create_api`; read by the guard on every request."""

    token: str
    token_for_reads: bool = False
    # Host names accepted in the Host header; None accepts any (non-loopback binds, which need
    # the token for every request anyway).
    allowed_hosts: frozenset[str] | None = field(default=LOOPBACK_NAMES)

    def needs_token(self, method: str) -> bool:
        return self.token_for_reads or method.upper() not in SAFE_METHODS

    def authenticated(self, authorization: str | None) -> bool:
        return check_token(self.token, bearer(authorization))

    def host_allowed(self, header: str | None) -> bool:
        if self.allowed_hosts is None or header is None:
            return True  # browsers always send Host; a missing one is not a rebinding page
        name = host_name(header)
        return name in self.allowed_hosts or is_loopback_host(name)


def bearer_scheme():
    """The OpenAPI security scheme (documentation only: the guard enforces it)."""
    from fastapi.security import HTTPBearer

    return HTTPBearer(auto_error=False, scheme_name="apiToken",
                      description="The token in etc/secrets/api-token (created by `mh serve` or "
                                  "`mh init`). Required for every write, and for every request "
                                  "when the server is bound to a non-loopback address.")
