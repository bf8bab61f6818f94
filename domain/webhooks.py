"""Outbound webhooks (pure): Standard Webhooks signatures, the retry schedule, and which targets are allowed.

Signatures follow the Standard Webhooks specification
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
headers ``webhook-id`` (the event's id: the same on every retry, so a receiver deduplicates by it),
``webhook-timestamp`` (the attempt's Unix seconds) and ``webhook-signature``, a space-separated list of
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per secret in use (two during a rotation). A secret
is ``whsec_`` + base64 of its key bytes; receivers refuse timestamps more than 5 minutes off. The tests check
our signatures with the specification's own Python package (``standardwebhooks``) and with the verifier of
our client (``keeptime_client.verify``, clients/python), which receivers use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # the specification: between 24 and 64 bytes
TOLERANCE = timedelta(minutes=5)
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret signs beside the new one this long
GIVE_UP_AFTER = timedelta(days=3)  # a delivery is retried this long after its first attempt
DISABLE_AFTER = timedelta(days=3)  # an endpoint failing without a success this long is disabled
URL_MAX = 2048
BODY_READ_MAX = 4096  # of a receiver's answer, kept for the delivery log; the rest is never read
ATTEMPT_TIMEOUT_S = 10.0  # connect + send + answer, per attempt
CONNECT_TIMEOUT_S = 3.0

DeliveryState = Literal["pending", "delivered", "failed"]
# Cloud metadata services answer on link-local and these addresses (AWS, GCP, Azure, Alibaba, Oracle):
# all are refused, link-local as a whole already covers 169.254.169.254 and fd00:ec2::254 is unique-local.
_METADATA = frozenset({ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("192.0.0.192")})


class RelayWebhooksInput(BaseModel):
    """One run of the relay: deliver for ``run_for_s`` seconds, looking for new events every ``poll_s``."""

    model_config = ConfigDict(frozen=True)

    run_for_s: float = Field(default=60.0, gt=0, le=600)
    poll_s: float = Field(default=0.25, gt=0, le=60)


class RelayWebhooksResult(BaseModel):
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    endpoints_disabled: int = 0


# --- secrets and signatures ---------------------------------------------------------------------------


def format_secret(key: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(key).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :])


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{msg_id}.{timestamp}.{body}"`` under the secret's key."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with every secret in use."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }


# --- when to try again ----------------------------------------------------------------------------------

# Exponential from 30 s (x3 each time) up to 6 h, each delay jittered by +-20% so that a receiver coming back
# after an outage is not hit by every delivery at once; the last attempt is 3 days after the first.
RETRY_FIRST = timedelta(seconds=30)
RETRY_FACTOR = 3
RETRY_CAP = timedelta(hours=6)
JITTER = 0.2


def retry_delay(failures: int, jitter: float) -> timedelta:
    """The wait after the ``failures``-th failed attempt (1-based); ``jitter`` in [-1, 1] scales +-20%."""
    growth: int = RETRY_FACTOR ** max(0, min(failures - 1, 20))
    base = min(RETRY_FIRST * growth, RETRY_CAP)
    return base * (1 + JITTER * max(-1.0, min(1.0, jitter)))


def retry_schedule() -> list[timedelta]:
    """The waits without jitter after each failure; the last attempt comes 3 days after the first."""
    waits: list[timedelta] = []
    elapsed = timedelta(0)
    while elapsed < GIVE_UP_AFTER:
        wait = min(retry_delay(len(waits) + 1, 0.0), GIVE_UP_AFTER - elapsed)
        waits.append(wait)
        elapsed += wait
    return waits


# --- where a delivery may go ----------------------------------------------------------------------------


class BadTarget(ValueError):
    """The URL or the address its host resolves to is not one Keeptime delivers to."""


def check_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The URL's host and port, if Keeptime may deliver there: https (http too when private targets are
    allowed, i.e. in development), no credentials in it, a host, no fragment. Raises ``BadTarget``."""
    if len(url) > URL_MAX:
        raise BadTarget(f"at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadTarget("not a URL") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise BadTarget("must be an https:// URL" if not allow_private else "must be an http(s):// URL")
    if parts.username is not None or parts.password is not None:
        raise BadTarget("must not carry credentials (the signature authenticates Keeptime)")
    if not parts.hostname:
        raise BadTarget("has no host")
    if parts.fragment:
        raise BadTarget("must not have a #fragment")
    host = parts.hostname
    if not allow_private:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not address_allowed(str(literal), allow_private=False):
            raise BadTarget(f"{host} is not a public address")
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise BadTarget(f"{host} is not a public host")
    return host, port or (443 if parts.scheme == "https" else 80)


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """A resolved address Keeptime connects to: a global unicast one (not loopback, private, link-local,
    shared, reserved, multicast or a cloud metadata service; IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    if allow_private:
        return True
    return ip.is_global and ip not in _METADATA
