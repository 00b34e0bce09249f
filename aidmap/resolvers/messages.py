"""Messages on a pledge: only its requester and whoever brings it (its donor, or a relayed pledge's
carrier; pledges.in_chat) can write or read them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import EventKind, Message, Need, Pledge
from aidmap.problems import Code, Problems
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.pledges import in_chat
from aidmap.resolvers.validation import Checker

MAX_BODY = 2000


async def _parties(*, session: AsyncSession, pledge_id: int) -> tuple[int, int] | None:
    """(who brings it, requester) of the pledge, or None."""
    bringer = func.coalesce(Pledge.carrier_id, Pledge.donor_id).label("bringer")
    row = (
        await session.execute(
            select(bringer, Need.owner_id).join(Need, Need.id == Pledge.need_id).where(Pledge.id == pledge_id)
        )
    ).one_or_none()
    return (row.bringer, row.owner_id) if row else None


async def send(*, session: AsyncSession, viewer: Viewer, pledge_id: int, body: str) -> Message:
    check = Checker()
    text = check.text("body", body, max_len=MAX_BODY)
    if check.problems:
        raise Problems(check.problems)
    parties = await _parties(session=session, pledge_id=pledge_id)
    if parties is None or viewer.account_id not in parties:
        raise Problems.one("pledgeId", msg("No pledge of yours has this id."), Code.NOT_FOUND)
    message = Message(pledge_id=pledge_id, sender_id=viewer.account_id, body=text)
    session.add(message)
    await session.flush()
    await session.refresh(message)
    await emit(
        session=session, kind=EventKind.MESSAGE_SENT, pledge_id=pledge_id, message_id=message.id, audience=parties
    )
    return message


async def for_pledge(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> list[Message] | None:
    """The pledge's messages, oldest first; None when the viewer is not one of its two parties."""
    parties = await _parties(session=session, pledge_id=pledge_id)
    if parties is None or viewer.account_id not in parties:
        return None
    query = select(Message).where(Message.pledge_id == pledge_id).order_by(Message.created_at, Message.id)
    return list((await session.execute(query)).scalars())


async def readable_many(*, session: AsyncSession, viewer: Viewer | None, message_ids: list[int]) -> dict[int, Message]:
    """The messages among these ids whose pledge the viewer is a party to (as `for_pledge`), by id, in one
    statement instead of a message and its whole thread per id."""
    if viewer is None or not message_ids:
        return {}
    query = (
        select(Message)
        .join(Pledge, Pledge.id == Message.pledge_id)
        .join(Need, Need.id == Pledge.need_id)
        .where(Message.id.in_(message_ids), in_chat(viewer.account_id))
    )
    return {message.id: message for message in (await session.execute(query)).scalars()}


async def get(*, session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)
