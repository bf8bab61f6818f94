"""Verify a Keeptime webhook delivery (Standard Webhooks: https://www.standardwebhooks.com/).

Keeptime signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 under the key that is the
base64 after ``whsec_``, and sends ``webhook-signature: v1,<base64> [v1,<base64> ...]`` (two during a secret
rotation). A delivery is accepted when one signature matches and its timestamp is within 5 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import cast

from keeptime_client.models import Event

TOLERANCE_S = 300


class WebhookVerificationError(ValueError):
    """Not signed by Keeptime with this secret, or too old or too new: answer 400 and do nothing."""


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> Event:
    """The event of a delivery whose signature and age check out. ``body``: the raw bytes as received.
    Deduplicate by ``event["id"]`` (the ``webhook-id``): a retry or a replay carries the same one."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not a number") from exc
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        raise WebhookVerificationError("webhook-timestamp is more than 5 minutes off")
    if not secret.startswith("whsec_"):
        raise WebhookVerificationError("the secret is not a whsec_ secret")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    if not any(hmac.compare_digest(expected, given) for given in signatures.split(" ")):
        raise WebhookVerificationError("no signature matches")
    event = json.loads(body)
    if not isinstance(event, dict) or event.get("id") != msg_id:
        raise WebhookVerificationError("the body is not the event webhook-id names")
    return cast(Event, event)
