"""What each notification says, in Vietnamese or English: short, and built only from fixed phrases,
the need's category and a link. Never a title, a unit, a message body, an address or a phone (a person
may type any of those into them), so no text can carry an exact location or a phone number.

SMS are one GSM-7 message where possible: Vietnamese without diacritics (as Vietnamese banks send
theirs), with the link; push notifications keep the diacritics.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from aidmap.models.notification import NotificationKind as K

CATEGORIES = {
    "vi": {"FOOD": "thực phẩm", "MEDICINE": "thuốc", "STUDY_DEVICE": "thiết bị học tập",
           "MEDICAL_CONSULTATION": "tư vấn y tế", "ESSENTIALS": "nhu yếu phẩm", "ERRAND": "việc vặt", "OTHER": "khác"},
    "en": {"FOOD": "food", "MEDICINE": "medicine", "STUDY_DEVICE": "study device",
           "MEDICAL_CONSULTATION": "medical consultation", "ESSENTIALS": "essentials", "ERRAND": "errand",
           "OTHER": "other"},
}  # fmt: skip

# (kind, side) -> language -> (title, body); side is "requester" or "donor".
_TEXTS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    (K.PLEDGE_CREATED, "requester"): {
        "vi": ("Có người nhận giúp", "Một nhà hảo tâm vừa nhận giúp yêu cầu {category} của bạn."),
        "en": ("Someone pledged", "A donor has just pledged to your {category} request."),
    },
    (K.PLEDGE_CANCELLED, "requester"): {
        "vi": ("Lời nhận giúp bị huỷ", "Nhà hảo tâm đã huỷ lời nhận giúp yêu cầu {category} của bạn."),
        "en": ("Pledge cancelled", "A donor cancelled their pledge to your {category} request."),
    },
    (K.PLEDGE_CANCELLED, "donor"): {
        "vi": ("Lời nhận giúp bị huỷ", "Người cần giúp đã huỷ lời nhận giúp {category} của bạn."),
        "en": ("Pledge cancelled", "The requester cancelled your {category} pledge."),
    },
    (K.PLEDGE_DELIVERED, "requester"): {
        "vi": ("Đã nhận hàng", "Yêu cầu {category} của bạn đã được đánh dấu là đã nhận."),
        "en": ("Marked delivered", "Your {category} request was marked as delivered."),
    },
    (K.PLEDGE_DELIVERED, "donor"): {
        "vi": ("Đã xác nhận", "Người cần giúp đã xác nhận nhận được {category}. Cảm ơn bạn!"),
        "en": ("Delivery confirmed", "The requester confirmed your {category} delivery. Thank you!"),
    },
    (K.MESSAGE_SENT, "requester"): {
        "vi": ("Tin nhắn mới", "Bạn có tin nhắn mới về yêu cầu {category}."),
        "en": ("New message", "You have a new message about a {category} request."),
    },
    (K.NEED_EXPIRING, "requester"): {
        "vi": (
            "Bạn vẫn cần giúp?",
            "Yêu cầu {category} của bạn hết hạn sau 1 ngày. Mở liên kết để gia hạn.",
        ),
        "en": ("Still need help?", "Your {category} request expires in a day. Open the link to renew it."),
    },
    (K.HELP_ASKED, "donor"): {
        "vi": ("Cần giúp ngay", "Có người gần bạn cần giúp ngay ({category}). Mở liên kết để nhận."),
        "en": ("Help needed now", "Someone near you needs help now ({category}). Open the link to answer."),
    },
}
_TEXTS[(K.MESSAGE_SENT, "donor")] = _TEXTS[(K.MESSAGE_SENT, "requester")]


@dataclass(frozen=True)
class Text:
    title: str
    body: str

    def sms(self, url: str, language: str) -> str:
        text = f"aidmap: {self.body} {url}"
        return plain(text) if language == "vi" else text


def render(kind: str, side: str, language: str, category: str | None) -> Text:
    language = language if language in ("vi", "en") else "en"
    title, body = _TEXTS[(kind, side)][language]
    name = CATEGORIES[language].get(category or "OTHER", CATEGORIES[language]["OTHER"])
    return Text(title=title, body=body.format(category=name))


def has_text(kind: str, side: str) -> bool:
    return (kind, side) in _TEXTS


def plain(text: str) -> str:
    """Vietnamese without diacritics (đ too, which has no decomposition)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def language_for_phone(phone: str | None) -> str:
    return "vi" if phone is None or phone.startswith("+84") else "en"
