"""What each notification says, in Vietnamese or English: short, and built only from fixed phrases,
the need's category and a link. Never a title, a unit, a message body, an address or a phone (a person
may type any of those into them), so no text can carry an exact location or a phone number.

SMS are one GSM-7 message where possible: Vietnamese without diacritics (as Vietnamese banks send
theirs), with the link; push notifications keep the diacritics.
"""

from __future__ import annotations

from dataclasses import dataclass

from aidmap import i18n
from aidmap.i18n import N_, SUPPORTED, plain
from aidmap.models.notification import NotificationKind as K

__all__ = ["CATEGORIES", "Text", "has_text", "language_for_phone", "plain", "render"]

# The English word for each category; its Vietnamese is in the catalog (context "category", i18n/terms.py).
CATEGORIES = {
    "FOOD": "food", "MEDICINE": "medicine", "STUDY_DEVICE": "study device",
    "MEDICAL_CONSULTATION": "medical consultation", "ESSENTIALS": "essentials", "ERRAND": "errand",
    "OTHER": "other",
}  # fmt: skip

# (kind, side) -> (title, body) in English, the keys of their translations (i18n's catalog); side is
# "requester" or "donor", or for a relayed pledge "carrier" (the collection point's manager) and
# "relay" (its manager or donor, about the relay).
_TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    (K.PLEDGE_CREATED, "requester"): (N_("Someone pledged"), N_("A donor has just pledged to your {category} request.")),
    (K.PLEDGE_CANCELLED, "requester"): (
        N_("Pledge cancelled"), N_("A donor cancelled their pledge to your {category} request.")
    ),
    (K.PLEDGE_CANCELLED, "donor"): (N_("Pledge cancelled"), N_("The requester cancelled your {category} pledge.")),
    (K.PLEDGE_DELIVERED, "requester"): (N_("Marked delivered"), N_("Your {category} request was marked as delivered.")),
    (K.PLEDGE_DELIVERED, "donor"): (
        N_("Delivery confirmed"), N_("The requester confirmed your {category} delivery. Thank you!")
    ),
    (K.PLEDGE_MARKED_DELIVERED, "requester"): (
        N_("Delivered?"), N_("A donor says your {category} request was delivered. Open the link to confirm it.")
    ),
    (K.MESSAGE_SENT, "requester"): (N_("New message"), N_("You have a new message about a {category} request.")),
    (K.NEED_EXPIRING, "requester"): (
        N_("Still need help?"), N_("Your {category} request expires in a day. Open the link to renew it.")
    ),
    (K.HELP_ASKED, "donor"): (
        N_("Help needed now"), N_("Someone near you needs help now ({category}). Open the link to answer.")
    ),
    (K.NEED_PRIVATE_UPDATED, "donor"): (
        N_("Address changed"),
        N_("The {category} request you pledged to has a new address or phone. Open the link before you go."),
    ),
    # A relayed pledge (through a collection point): its manager carries it, its donor dropped it off.
    (K.PLEDGE_CREATED, "carrier"): (
        N_("Delivery to carry"), N_("A {category} pledge was made through your collection point. Open the link.")
    ),
    (K.PLEDGE_CANCELLED, "relay"): (
        N_("Pledge cancelled"), N_("A {category} pledge through a collection point was cancelled.")
    ),
}  # fmt: skip
_TEXTS[(K.MESSAGE_SENT, "donor")] = _TEXTS[(K.MESSAGE_SENT, "requester")]


@dataclass(frozen=True)
class Text:
    title: str
    body: str

    def sms(self, url: str, language: str) -> str:
        text = f"aidmap: {self.body} {url}"
        return plain(text) if language == "vi" else text


def render(kind: str, side: str, language: str, category: str | None) -> Text:
    language = language if language in SUPPORTED else "en"
    title, body = (i18n.gettext(text, language) or text for text in _TEXTS[(kind, side)])
    name = i18n.pgettext("category", CATEGORIES.get(category or "OTHER", CATEGORIES["OTHER"]), language)
    return Text(title=title, body=body.format(category=name))


def has_text(kind: str, side: str) -> bool:
    return (kind, side) in _TEXTS


def language_for_phone(phone: str | None) -> str:
    return "vi" if phone is None or phone.startswith("+84") else "en"
