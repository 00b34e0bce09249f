"""The SMS senders against a gateway played on 127.0.0.1: what is sent, and how failures are told apart."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aidmap.notify.sms import LogSender, SmsFailed, SmsQueue, SmsSent, TwilioSender, sender_for
from aidmap.settings import Settings
from tests.notify.conftest import ACCOUNT, SENDER, TOKEN, Gateway


def _sender(gateway: Gateway, timeout_s: float = 2.0) -> TwilioSender:
    return TwilioSender(base_url=gateway.url, account=ACCOUNT, token=TOKEN, sender=SENDER, timeout_s=timeout_s)


async def _send(sender: TwilioSender, to: str = "+84955000001", text: str = "Mã: 1234 5678") -> SmsSent | SmsFailed:
    try:
        return await sender.send(to, text)
    finally:
        await sender.aclose()


def test_a_message_is_posted_as_twilio_expects(gateway: Gateway) -> None:
    result = asyncio.run(_send(_sender(gateway)))

    assert result == SmsSent(message_id="SM" + "1".zfill(32))
    [request] = gateway.received
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request["auth"] == f"{ACCOUNT}:{TOKEN}"
    assert request["form"] == {"To": "+84955000001", "From": SENDER, "Body": "Mã: 1234 5678"}


def test_server_errors_and_rate_limits_are_transient_other_refusals_are_not(gateway: Gateway) -> None:
    gateway.script = [500, 503, 429, 400, 401]
    results = [asyncio.run(_send(_sender(gateway))) for _ in range(5)]

    assert [(r.status, r.transient) for r in results if isinstance(r, SmsFailed)] == [
        (500, True), (503, True), (429, True), (400, False), (401, False),
    ]  # fmt: skip
    assert "not valid" in results[3].reason  # type: ignore[union-attr]


def test_a_gateway_that_does_not_answer_is_a_transient_failure_after_the_timeout(gateway: Gateway) -> None:
    gateway.script = [0]  # accepts the request and says nothing
    result = asyncio.run(_send(_sender(gateway, timeout_s=0.5)))
    assert isinstance(result, SmsFailed) and result.transient and result.status is None


def test_no_gateway_is_a_transient_failure() -> None:
    sender = TwilioSender(base_url="http://127.0.0.1:9", account=ACCOUNT, token=TOKEN, sender=SENDER)
    result = asyncio.run(_send(sender))
    assert isinstance(result, SmsFailed) and result.transient


def test_the_queue_retries_transient_failures_only(gateway: Gateway) -> None:
    outcomes: list[str] = []

    async def run() -> None:
        queue = SmsQueue(_sender(gateway), attempts=3, retry_s=0.01, on_outcome=outcomes.append)
        queue.start()
        gateway.script = [500, 502]  # then 201
        queue.submit("+84955000001", "first", purpose="test")
        await queue.drain()
        gateway.script = [400]
        queue.submit("+84955000002", "second", purpose="test")
        await queue.drain()
        await queue.stop()

    asyncio.run(run())
    assert [(r["form"]["To"], r["answered"]) for r in gateway.received] == [
        ("+84955000001", 500), ("+84955000001", 502), ("+84955000001", 201), ("+84955000002", 400),
    ]  # fmt: skip
    assert outcomes == ["sent", "failed"]


def test_the_log_sender_writes_the_message_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aidmap.notify.sms"):
        result = asyncio.run(LogSender().send("+84955000001", "Ma nhan: 1234 5678"))
        masked = asyncio.run(LogSender(reveal=False).send("+84955000001", "Ma nhan: 1234 5678"))
    assert isinstance(result, SmsSent) and isinstance(masked, SmsSent)
    assert "SMS to +84955000001: Ma nhan: 1234 5678" in caplog.text
    assert "SMS to +84••••••001: Ma nhan: •••• ••••" in caplog.text  # outside dev mode no code in the log


def test_settings_choose_the_sender() -> None:
    default = sender_for(Settings())
    assert isinstance(default, LogSender) and not default.reveal
    assert isinstance(sender_for(Settings(dev=True)), LogSender) and sender_for(Settings(dev=True)).reveal  # type: ignore[attr-defined]
    assert isinstance(
        sender_for(Settings(sms_gateway="twilio", sms_account="a", sms_token="t", sms_from="+1")), TwilioSender
    )
    with pytest.raises(ValueError, match="AIDMAP_SMS_ACCOUNT"):
        Settings(sms_gateway="twilio")
    with pytest.raises(ValueError, match="AIDMAP_SMS_GATEWAY"):
        Settings(sms_gateway="carrier-pigeon")
