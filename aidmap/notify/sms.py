"""Text messages to phones, behind one interface: `SmsSender.send(to_e164, text)`.

- `TwilioSender`: Twilio's Messages API (a form-encoded POST with basic auth), the API most SMS
  gateways either are or imitate; its base URL is configurable (AIDMAP_SMS_URL), so a compatible
  gateway, or a test's server on 127.0.0.1, takes its place.
- `LogSender`: writes the message to the log, for development; the default (AIDMAP_SMS_GATEWAY=log).

A send never raises for the gateway's sake: it returns `SmsSent` (with the provider's message id)
or `SmsFailed`, which says whether trying again may help (`transient`: a 5xx, 429, a timeout or a
connection that failed) or not (any other 4xx: a bad number, bad credentials). Each attempt is
bounded by a timeout, connect to answer.

`SmsQueue` sends in the background, so a request never waits for a gateway nor holds a database
transaction across one: bounded (a flood is dropped and logged, not queued without end), retrying
transient failures a few times with a doubling delay. It keeps messages in memory only, which is what
a one-time claim code needs (it must not be stored in clear anywhere, and the filer has it anyway);
notifications that must survive a restart go through the outbox instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from aidmap.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsSent:
    message_id: str


@dataclass(frozen=True)
class SmsFailed:
    reason: str
    # Worth trying again later (the gateway's fault or the network's); else the message itself is refused.
    transient: bool
    status: int | None = None


SmsResult = SmsSent | SmsFailed


class SmsSender(Protocol):
    async def send(self, to_e164: str, text: str) -> SmsResult: ...

    async def aclose(self) -> None: ...


class LogSender:
    """The default, for development: the message goes to the log (at INFO) as the person would read it.
    Outside dev mode digits and the phone are masked, so a deployment that has not configured a gateway
    does not write one-time codes into its logs."""

    def __init__(self, *, reveal: bool = True) -> None:
        self.reveal = reveal
        self.sent = 0

    async def send(self, to_e164: str, text: str) -> SmsResult:
        self.sent += 1
        if self.reveal:
            log.info("SMS to %s: %s", to_e164, text)
        else:
            log.info("SMS to %s: %s (set AIDMAP_SMS_GATEWAY to send it)", _mask(to_e164), _DIGITS.sub("•", text))
        return SmsSent(message_id=f"log-{self.sent}")

    async def aclose(self) -> None:
        return None


_DIGITS = re.compile(r"\d")


def _mask(phone: str) -> str:
    return phone[:3] + "•" * max(0, len(phone) - 6) + phone[-3:]


class TwilioSender:
    """Twilio's Messages API: POST {base}/2010-04-01/Accounts/{account}/Messages.json with To, From
    (or MessagingServiceSid, for an "MG..." sender) and Body, basic auth account:token; 201 with the
    message's `sid`."""

    def __init__(
        self, *, base_url: str, account: str, token: str, sender: str, timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        self._sender = sender
        # One timeout for the whole attempt: connect, send, answer (httpx's are per phase).
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            auth=(account, token), timeout=timeout_s, follow_redirects=False, transport=transport
        )

    async def send(self, to_e164: str, text: str) -> SmsResult:
        origin = "MessagingServiceSid" if self._sender.startswith("MG") else "From"
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(self._url, data={"To": to_e164, origin: self._sender, "Body": text})
        except (TimeoutError, httpx.TimeoutException):
            return SmsFailed("the gateway did not answer in time", transient=True)
        except httpx.HTTPError as error:
            return SmsFailed(f"could not reach the gateway: {type(error).__name__}", transient=True)
        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = str(response.json()["sid"])
            except (ValueError, KeyError, TypeError):
                return SmsFailed("the gateway accepted the message without an id", transient=False, status=status)
            return SmsSent(message_id=message_id)
        detail = _gateway_message(response)
        return SmsFailed(f"the gateway answered {status}: {detail}", transient=status >= 500 or status == 429, status=status)  # fmt: skip

    async def aclose(self) -> None:
        await self._client.aclose()


def _gateway_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body)[:200] if isinstance(body, dict) else str(body)[:200]


def sender_for(settings: Settings) -> SmsSender:
    """The configured gateway (AIDMAP_SMS_GATEWAY): Twilio's API, or the log."""
    if settings.sms_gateway == "twilio":
        return TwilioSender(
            base_url=settings.sms_url,
            account=settings.sms_account,
            token=settings.sms_token,
            sender=settings.sms_from,
            timeout_s=settings.sms_timeout_seconds,
        )
    return LogSender(reveal=settings.dev)


@dataclass(frozen=True)
class _Message:
    to_e164: str
    text: str
    purpose: str  # for the log and metrics: never the text, which may carry a code


class SmsQueue:
    """Messages sent in the background by a few workers, each transient failure retried after a
    doubling delay, at most `attempts` tries in all; `on_outcome(outcome)` counts what became of each."""

    def __init__(
        self, sender: SmsSender, *, workers: int = 2, capacity: int = 1000, attempts: int = 3,
        retry_s: float = 5.0, on_outcome: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self.sender = sender
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(maxsize=capacity)
        self._workers = workers
        self._attempts = max(1, attempts)
        self._retry_s = retry_s
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"aidmap-sms-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sender.aclose()

    def submit(self, to_e164: str, text: str, *, purpose: str) -> bool:
        """Queue a message (never waits); False, logged, when the queue is full."""
        try:
            self._queue.put_nowait(_Message(to_e164, text, purpose))
        except asyncio.QueueFull:
            log.warning("SMS queue full: %s message dropped", purpose)
            self._on_outcome("dropped")
            return False
        return True

    async def _work(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._deliver(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in a sender must not stop the worker
                log.exception("SMS %s: unexpected failure", message.purpose)
                self._on_outcome("failed")
            finally:
                self._queue.task_done()

    async def _deliver(self, message: _Message) -> None:
        for attempt in range(1, self._attempts + 1):
            result = await self.sender.send(message.to_e164, message.text)
            if isinstance(result, SmsSent):
                log.info("SMS %s sent (%s)", message.purpose, result.message_id)
                self._on_outcome("sent")
                return
            if not result.transient or attempt == self._attempts:
                log.warning("SMS %s not sent after %d attempt(s): %s", message.purpose, attempt, result.reason)
                self._on_outcome("failed")
                return
            log.info("SMS %s: %s; trying again", message.purpose, result.reason)
            await asyncio.sleep(self._retry_s * 2 ** (attempt - 1))

    async def drain(self) -> None:
        """Until everything queued has been sent or given up (tests, shutdown)."""
        await self._queue.join()


def queue_for(settings: Settings, on_outcome: Callable[[str], None] | None = None) -> SmsQueue:
    return SmsQueue(
        sender_for(settings), attempts=settings.sms_attempts, retry_s=settings.sms_retry_seconds, on_outcome=on_outcome
    )
