"""The webhooks' pure rules (domain.webhooks): signatures exactly as the Standard Webhooks package verifies
them, the retry schedule, and where Keeptime refuses to deliver."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import keeptime_client
import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from activities.webhooks import PublicOnlyResolver
from domain import webhooks as rules


@given(
    key=st.binary(min_size=24, max_size=64),
    other=st.binary(min_size=24, max_size=64),
    msg_id=st.from_regex(r"evt_[1-9][0-9]{0,17}", fullmatch=True),
    text=st.text(max_size=500),
    skew=st.integers(-299, 299),
)
def test_every_signature_is_one_the_standard_webhooks_package_and_our_client_accept(
    key: bytes, other: bytes, msg_id: str, text: str, skew: int
) -> None:
    now = datetime.now(UTC)
    stamp = int(now.timestamp()) + skew
    body = json.dumps({"id": msg_id, "data": {"note": text}}).encode()
    secrets = [rules.format_secret(key), rules.format_secret(other)]
    headers = rules.signed_headers(secrets, msg_id, stamp, body)
    for secret in secrets:  # during a rotation either secret verifies
        standardwebhooks.Webhook(secret).verify(body, headers)
        assert keeptime_client.verify(secret, headers, body, now=now.timestamp())["id"] == msg_id
    wrong = rules.format_secret(bytes(b ^ 1 for b in key))
    if wrong not in secrets:
        with pytest.raises(keeptime_client.WebhookVerificationError):
            keeptime_client.verify(wrong, headers, body, now=now.timestamp())
    with pytest.raises(keeptime_client.WebhookVerificationError):
        keeptime_client.verify(secrets[0], headers, body + b" ", now=now.timestamp())
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secrets[0]).verify(body + b" ", headers)


def test_a_secret_is_whsec_and_base64_of_its_key_and_old_timestamps_are_refused() -> None:
    secret = rules.format_secret(b"k" * 24)
    assert secret == "whsec_" + base64.b64encode(b"k" * 24).decode() and rules.secret_key(secret) == b"k" * 24
    now = datetime.now(UTC)
    body = b'{"id": "evt_1"}'
    headers = rules.signed_headers([secret], "evt_1", int((now - timedelta(minutes=6)).timestamp()), body)
    with pytest.raises(keeptime_client.WebhookVerificationError, match="5 minutes"):
        keeptime_client.verify(secret, headers, body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body, headers)
    with pytest.raises(keeptime_client.WebhookVerificationError, match="missing"):
        keeptime_client.verify(secret, {}, body)
    # a body signed for another id is refused even with a good signature
    other = rules.signed_headers([secret], "evt_2", int(now.timestamp()), body)
    with pytest.raises(keeptime_client.WebhookVerificationError, match="names"):
        keeptime_client.verify(secret, other, body)


def test_the_retry_schedule_backs_off_to_six_hours_and_ends_three_days_after_the_first_attempt() -> None:
    waits = rules.retry_schedule()
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=90), timedelta(seconds=270)]
    assert max(waits) == timedelta(hours=6) and sum(waits, timedelta(0)) == rules.GIVE_UP_AFTER
    assert len(waits) + 1 == 19  # attempts, as docs/webhooks.md prints


@given(failures=st.integers(1, 1000), jitter=st.floats(-5, 5))
def test_each_wait_is_within_twenty_percent_of_its_step(failures: int, jitter: float) -> None:
    base = min(rules.RETRY_FIRST * rules.RETRY_FACTOR ** min(failures - 1, 20), rules.RETRY_CAP)
    assert base * 0.8 <= rules.retry_delay(failures, jitter) <= base * 1.2


REFUSED = [
    "http://example.com/hook",
    "ftp://example.com/hook",
    "https://user:secret@example.com/hook",
    "https:///nohost",
    "https://example.com/hook#part",
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.9/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/",
    "https://0.0.0.0/",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::5]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
    "https://printer.local/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://example.com:99999/hook",
    "https://" + "a" * 2050 + ".com/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_deployment_refuses_urls_that_are_not_public_https(url: str) -> None:
    with pytest.raises(rules.BadTarget):
        rules.check_url(url, allow_private=False)


def test_public_https_is_accepted_and_development_also_allows_http_and_loopback() -> None:
    assert rules.check_url("https://crm.example.com/keeptime", allow_private=False) == (
        "crm.example.com",
        443,
    )
    assert rules.check_url("https://93.184.216.34:8443/h", allow_private=False) == ("93.184.216.34", 8443)
    assert rules.check_url("http://127.0.0.1:9000/h", allow_private=True) == ("127.0.0.1", 9000)
    with pytest.raises(rules.BadTarget):
        rules.check_url("ftp://127.0.0.1/h", allow_private=True)
    assert rules.address_allowed("2606:4700::1111", allow_private=False)
    assert not rules.address_allowed("fe80::1%eth0", allow_private=False)
    assert not rules.address_allowed("224.0.0.1", allow_private=True)  # multicast: never


async def test_the_relays_resolver_drops_every_address_that_is_not_public() -> None:
    strict, lax = PublicOnlyResolver(allow_private=False), PublicOnlyResolver(allow_private=True)
    try:
        with pytest.raises(OSError, match="no public address"):
            await strict.resolve("localhost", 80)
        assert {r["host"] for r in await lax.resolve("localhost", 80)} <= {"127.0.0.1", "::1"}
    finally:
        await strict.close()
        await lax.close()


def test_the_docs_list_every_event_type_of_the_catalogue() -> None:
    from pathlib import Path

    from domain.events import EVENT_TYPES

    docs = (Path(__file__).parent.parent / "docs" / "events.md").read_text()
    missing = [t for t in EVENT_TYPES if f"`{t}`" not in docs]
    assert missing == []
