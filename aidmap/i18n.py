"""Vietnamese and English: the API's error messages follow the request's Accept-Language.

Messages are written in English where they are raised; this module turns them into
Vietnamese by pattern (so numbers and names carry over) or, for a message it does not
know, into the general Vietnamese message for its code. English is the default.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

SUPPORTED = ("vi", "en")
language: ContextVar[str] = ContextVar("aidmap_language", default="en")


def pick(accept_language: str | None) -> str:
    """The supported language the client prefers most ('en' when it names none of them)."""
    best, best_q = "en", -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in SUPPORTED:
            continue
        q = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        # Equal weights: the earlier one wins.
        if q > best_q or (q == best_q and position == 0):
            best, best_q = code, q
    return best


FIELDS = {
    "title": "Tiêu đề", "details": "Chi tiết", "quantity": "Số lượng", "unit": "Đơn vị", "category": "Loại",
    "householdSize": "Số người trong hộ", "contactPhone": "Số điện thoại liên hệ", "phone": "Số điện thoại",
    "displayName": "Tên hiển thị", "password": "Mật khẩu", "expiresAt": "Hạn", "location": "Vị trí",
    "radiusMeters": "Bán kính", "reason": "Lý do", "body": "Nội dung", "availableUntil": "Thời hạn",
    "onBehalfOf.displayName": "Tên người cần giúp", "onBehalfOf.phone": "Số điện thoại người cần giúp",
    "first": "first", "near": "Vị trí", "code": "Mã nhận", "newPassword": "Mật khẩu mới",
    "currentPassword": "Mật khẩu hiện tại",
}  # fmt: skip

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?P<f>[\w.]+) is required\.$"), "{f} là bắt buộc."),
    (re.compile(r"^(?P<f>[\w.]+) must not be empty\.$"), "{f} không được để trống."),
    (re.compile(r"^(?P<f>[\w.]+) must be at most (?P<n>\d+) characters\.$"), "{f} tối đa {n} ký tự."),
    (re.compile(r"^(?P<f>[\w.]+) must be at least (?P<n>\d+) characters\.$"), "{f} cần ít nhất {n} ký tự."),
    (re.compile(r"^(?P<f>[\w.]+) must be between 1 and (?P<n>\d+)\.$"), "{f} phải từ 1 đến {n}."),
    (re.compile(r"^(?P<f>[\w.]+) must be in the future\.$"), "{f} phải là một thời điểm trong tương lai."),
    (re.compile(r"^(?P<f>[\w.]+) must be within (?P<n>\d+) days\.$"), "{f} không quá {n} ngày kể từ bây giờ."),
    (re.compile(r"^(?P<f>[\w.]+) must be more than 0 and at most (?P<n>\d+) metres\.$"), "{f} phải lớn hơn 0 và không quá {n} mét."),
    (re.compile(r"^Enter a phone number like"), "Nhập số điện thoại dạng 0912 345 678 hoặc +84912345678."),
    (re.compile(r"^Latitude and longitude must be finite"), "Vĩ độ và kinh độ phải là số hợp lệ."),
    (re.compile(r"^Latitude must be within"), "Vĩ độ phải trong [-90, 90] và kinh độ trong [-180, 180]."),
    (re.compile(r"^Only (?P<n>\d+) (?P<u>.+) are still needed\.$"), "Chỉ còn cần {n} {u}."),
    (re.compile(r"^An account with this phone number already exists\.$"), "Số điện thoại này đã có tài khoản."),
    (re.compile(r"^Phone number or password is wrong\.$"), "Số điện thoại hoặc mật khẩu không đúng."),
    (re.compile(r"^Sign in"), "Hãy đăng nhập để làm việc này."),
    (re.compile(r"^Your session has expired"), "Phiên đăng nhập đã hết hạn; hãy đăng nhập lại."),
    (re.compile(r"^The person this need was filed for has claimed it"), "Người được đăng hộ đã nhận yêu cầu này: họ tự xác nhận khi nhận hàng."),
    (re.compile(r"^You cannot pledge to your own need\.$"), "Bạn không thể cam kết cho yêu cầu của chính mình."),
    (re.compile(r"^This need no longer accepts pledges\.$"), "Yêu cầu này không còn nhận cam kết."),
    (re.compile(r"^At most (?P<n>\d+) open needs per category"), "Mỗi người chỉ có tối đa {n} yêu cầu đang mở cho mỗi loại; hãy đóng hoặc hủy bớt một yêu cầu."),
    (re.compile(r"^You have already reported this need\.$"), "Bạn đã báo cáo yêu cầu này rồi."),
    (re.compile(r"^Too many wrong attempts; try again in (?P<n>\d+) seconds\.$"), "Sai quá nhiều lần; hãy thử lại sau {n} giây."),
    (re.compile(r"^No need filed for your phone number has this id and claim code"), "Không có yêu cầu nào gửi giúp cho số điện thoại của bạn với mã yêu cầu và mã nhận này: hãy kiểm tra lại cả hai, hoặc xin người đã gửi giúp một mã mới (mã có hạn 14 ngày; sai 5 lần thì phải chờ 15 phút)."),
    (re.compile(r"^A claim code is \d+ digits\.$"), "Mã nhận gồm 8 chữ số."),
    (re.compile(r"^No need was filed for your phone number with this id\.$"), "Không có yêu cầu nào với mã số này được gửi cho số điện thoại của bạn."),
    (re.compile(r"^No need you filed for someone has this id\.$"), "Không có yêu cầu nào bạn gửi giúp người khác với mã số này."),
    (re.compile(r"^This need has been claimed already\.$"), "Yêu cầu này đã được nhận rồi."),
    (re.compile(r"^signIn does not take an API key"), "signIn không dùng khóa API: ứng dụng đối tác thay mặt tài khoản mình đã tạo bằng Aidmap-Act-As."),
    (re.compile(r"^You have pledged to (?P<n>\d+) needs in the last 24 hours without a delivery \(the most is (?P<m>\d+)\)"), "Trong 24 giờ qua bạn đã cam kết cho {n} yêu cầu mà chưa giao được lần nào (tối đa {m}); hãy giao xong một cam kết, hoặc chờ, rồi mới cam kết cho yêu cầu khác."),
    (re.compile(r"^Only the person who asked for help, or who filed the need, can accept a pledge\.$"), "Chỉ người cần giúp, hoặc người đăng yêu cầu thay họ, mới chấp nhận được cam kết."),
    (re.compile(r"^This pledge is already accepted\.$"), "Cam kết này đã được chấp nhận rồi."),
    (re.compile(r"^This password is one of the most common ones"), "Mật khẩu này nằm trong số những mật khẩu phổ biến nhất; hãy chọn mật khẩu khác (vài từ ghép lại vừa dễ nhớ vừa khó đoán)."),
    (re.compile(r"^The current password is wrong\.$"), "Mật khẩu hiện tại không đúng."),
    (re.compile(r"^The new password is the same as the current one\.$"), "Mật khẩu mới trùng với mật khẩu hiện tại."),
    (re.compile(r"^Sessions are people's own"), "Phiên đăng nhập là của từng người: khóa API của đối tác không đăng xuất hay đổi mật khẩu được (người vận hành thu hồi khóa bằng `aidmap partner revoke`)."),
    (re.compile(r"^Unexpected error\.$"), "Đã có lỗi không mong muốn."),
    (re.compile(r"^The database is unavailable"), "Hệ thống đang tạm gián đoạn; hãy thử lại sau vài giây."),
]  # fmt: skip

BY_CODE = {
    "REQUIRED": "Thông tin này là bắt buộc.",
    "INVALID": "Giá trị không hợp lệ.",
    "TOO_LONG": "Nội dung quá dài.",
    "TOO_SHORT": "Nội dung quá ngắn.",
    "TOO_COMMON": "Mật khẩu này quá phổ biến; hãy chọn mật khẩu khác.",
    "OUT_OF_RANGE": "Giá trị nằm ngoài khoảng cho phép.",
    "NOT_FOUND": "Không tìm thấy.",
    "UNAUTHENTICATED": "Hãy đăng nhập để làm việc này.",
    "FORBIDDEN": "Bạn không có quyền làm việc này.",
    "INVALID_STATE": "Không thể làm việc này ở trạng thái hiện tại.",
    "PHONE_TAKEN": "Số điện thoại này đã có tài khoản.",
    "INVALID_CREDENTIALS": "Số điện thoại hoặc mật khẩu không đúng.",
    "QUANTITY_EXCEEDS_OPEN": "Số lượng vượt quá phần còn cần.",
    "OWN_NEED": "Bạn không thể cam kết cho yêu cầu của chính mình.",
    "OFFER_UNAVAILABLE": "Đề nghị hỗ trợ này không còn dùng được.",
    "QUOTA_EXCEEDED": "Bạn đã đạt giới hạn cho phép.",
    "ALREADY_REPORTED": "Bạn đã báo cáo yêu cầu này rồi.",
    "TOO_MANY_ATTEMPTS": "Sai quá nhiều lần; hãy thử lại sau.",
    "CLAIM_CODE_WRONG": "Mã nhận yêu cầu không đúng.",
    "CLAIM_CODE_EXPIRED": "Mã nhận yêu cầu đã hết hạn; hãy xin một mã mới.",
    "DISCLOSURE_LIMIT": "Bạn đã cam kết cho quá nhiều yêu cầu trong 24 giờ mà chưa giao; hãy giao xong một cam kết trước.",
    "ATTESTATION_INVALID": "Chứng thực không hợp lệ (chữ ký, hạn, thu hồi hoặc nội dung không khớp); không có gì thay đổi.",
}


def translate(message: str, code: str | None) -> str:
    """The message in the request's language."""
    if language.get() != "vi":
        return message
    for pattern, template in _PATTERNS:
        match = pattern.match(message)
        if match:
            groups = match.groupdict()
            if "f" in groups:
                groups["f"] = FIELDS.get(groups["f"], groups["f"])
            return template.format(**groups)
    return BY_CODE.get(code or "", message)
