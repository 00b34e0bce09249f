"""Vietnamese and English error messages, chosen by Accept-Language; messages by key with a complete
Vietnamese catalog (aidmap/i18n, docs/translations.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from aidmap import i18n
from aidmap.i18n import terms
from aidmap.models import NeedStatus, OfferStatus, PledgeStatus
from aidmap.notify import texts
from aidmap.problems import Code
from tests.conftest import Api
from tests.factories import CREATE_NEED, PLEDGE, create_need, need_input, sign_up

PACKAGE = Path(i18n.__file__).parent.parent
ROOT = PACKAGE.parent
TEMPLATE = i18n.LOCALE_DIR / "aidmap.pot"
CATALOGS = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/aidmap.po"))
FIX = "run `make messages`, then translate the new entries (docs/translations.md)"


def _in_code() -> dict[tuple[str | None, str], str]:
    """Every message the code marks (msg, N_, term), as `make messages` extracts them: key -> file."""
    found: dict[tuple[str | None, str], str] = {}
    extracted = extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=i18n.KEYWORDS, comment_tags=()
    )
    for filename, _, message, _, context in extracted:
        assert isinstance(message, str), (filename, message)
        found.setdefault((context, message), filename)
    return found


def _entries(path: Path) -> dict[tuple[str | None, str], str]:
    with path.open("rb") as f:
        return {(m.context, m.id): m.string for m in read_po(f) if m.id and isinstance(m.id, str)}


def test_the_preferred_supported_language_wins() -> None:
    assert i18n.pick("vi-VN,vi;q=0.9,en;q=0.8") == "vi"
    assert i18n.pick("en-US,en;q=0.9,vi;q=0.8") == "en"
    assert i18n.pick("fr-FR, vi;q=0.5") == "vi"
    assert i18n.pick("fr, de") == "en"
    assert i18n.pick(None) == "en"


def test_api_errors_follow_accept_language(api: Api) -> None:
    token = sign_up(api)
    bad = {"query": CREATE_NEED, "variables": {"input": need_input(title=" ", quantity=0, contactPhone="12")}}

    def errors(language: str) -> list[str]:
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        body = api.http.post("/graphql", json=bad, headers=headers).json()
        return [e["message"] for e in body["data"]["createNeed"]["errors"]]

    assert errors("vi-VN,vi;q=0.9") == [
        "Tiêu đề không được để trống.",
        "Số lượng phải từ 1 đến 1000000.",
        "Nhập số điện thoại dạng 0912 345 678 hoặc +84912345678.",
    ]
    assert errors("en")[0] == "title must not be empty."
    query_error = api.http.post(
        "/graphql", json={"query": "{ myNeeds { edges { cursor } } }"}, headers={"Accept-Language": "vi"}
    ).json()
    assert query_error["errors"][0]["message"] == "Hãy đăng nhập để làm việc này."


def test_every_message_in_the_code_has_a_vietnamese_translation() -> None:
    vietnamese = i18n.catalog("vi")
    missing = sorted(f"{file}: {key[0] or ''} {key[1]!r}" for key, file in _in_code().items() if key not in vietnamese)
    assert not missing, f"no Vietnamese (or only a fuzzy one) for {len(missing)} messages; {FIX}:\n" + "\n".join(
        missing
    )


def test_the_template_and_catalogs_are_current() -> None:
    in_code = set(_in_code())
    template = set(_entries(TEMPLATE))
    assert template == in_code, f"{FIX}: new {sorted(in_code - template)}, gone {sorted(template - in_code)}"
    assert CATALOGS, "no catalog"
    for path in CATALOGS:
        stale = sorted(set(_entries(path)) - in_code)
        assert not stale, f"{path.relative_to(ROOT)} has messages the code no longer says; {FIX}: {stale}"


def test_translations_keep_the_placeholders() -> None:
    for path in CATALOGS:
        for (context, msgid), msgstr in _entries(path).items():
            if msgstr:
                assert i18n.placeholders(msgstr) == i18n.placeholders(msgid), (path.name, context, msgid, msgstr)
                msgstr.format_map({name: "x" for name in i18n.placeholders(msgid)})  # braces balanced


_MESSAGE_ARG = {"Problem": 1, "one": 1, "UserInputError": 1, "add": 1, "_invalid": 0, "ImportFileError": 0}
_MESSAGE_ARG["translate"] = 0


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_messages_are_made_by_key_not_written_in_place() -> None:
    """A message built where it is raised (a literal or an f-string) has no key the catalog can find:
    it would reach a Vietnamese client in English (or as its code's general message)."""
    in_place, not_literal, wrong_values = [], [], []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name, where = _name(node), f"{path.relative_to(ROOT)}:{node.lineno}"
            index = _MESSAGE_ARG.get(name or "")
            if index is not None and len(node.args) > index:
                arg = node.args[index]
                if isinstance(arg, ast.JoinedStr) or (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    in_place.append(where)
            key = node.args[0] if node.args else None
            literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
            if name in ("msg", "N_") and isinstance(node.func, ast.Name) and not literal:
                not_literal.append(where)  # `make messages` extracts only a literal key
            elif name == "msg" and literal and "**" not in ast.unparse(node):
                given = {k.arg for k in node.keywords}
                if given != i18n.placeholders(key.value):  # type: ignore[union-attr]
                    wrong_values.append(f"{where}: {sorted(given)} for {key.value!r}")  # type: ignore[union-attr]
    assert not in_place, f"wrap these messages in msg() with named placeholders: {in_place}"
    assert not not_literal, f"msg() and N_() take a literal key: {not_literal}"
    assert not wrong_values, f"msg() values must be the key's placeholders: {wrong_values}"


_CHECKS = {"text", "positive_int", "point", "radius", "phone", "future_time", "add", "Problem", "one"}
_CHECKS |= {"UserInputError", "password_problems"}


def test_the_words_messages_name_are_in_the_catalog() -> None:
    fields, kinds = set(), set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
                continue
            name = _name(node)
            first = node.args[0] if node.args else None
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if name in _CHECKS and literal and re.fullmatch(r"[a-z][\w.]*", first.value):  # type: ignore[union-attr]
                fields.add(first.value)  # type: ignore[union-attr]
            for keyword in node.keywords:
                if name == "msg" and keyword.arg == "field" and isinstance(keyword.value, ast.Constant):
                    fields.add(keyword.value.value)
            if name == "_pk" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                kinds.add(str(node.args[1].value).lower())
    assert fields and kinds
    assert fields <= set(terms.FIELDS), sorted(fields - set(terms.FIELDS))
    assert kinds <= set(terms.KINDS), sorted(kinds - set(terms.KINDS))
    statuses = {s.lower() for enum in (NeedStatus, OfferStatus, PledgeStatus) for s in enum}
    assert statuses <= set(terms.STATUSES), sorted(statuses - set(terms.STATUSES))
    assert {c.value for c in Code} <= set(terms.CODES), sorted({c.value for c in Code} - set(terms.CODES))
    assert set(texts.CATEGORIES.values()) <= set(terms.CATEGORIES)


def test_a_message_is_said_by_its_key() -> None:
    message = i18n.msg("{field} must be at most {n} characters.", field="title", n=120)
    assert message == "title must be at most 120 characters." and isinstance(message, str)
    assert i18n.translate(message, "TOO_LONG", "vi") == "Tiêu đề tối đa 120 ký tự."
    assert i18n.translate(message, "TOO_LONG", "en") == "title must be at most 120 characters."
    assert str(ValueError(message)) == message and isinstance(str(ValueError(message)), i18n.Message)
    status = i18n.msg("A {status} need cannot be changed.", status="fulfilled")
    assert i18n.translate(status, "INVALID_STATE", "vi") == "Không thể thay đổi yêu cầu đã hoàn thành."
    # Reworded without a translation: the code's general message, never a half-translated sentence.
    reworded = i18n.msg("{field} is too long (at most {n}).", field="title", n=120)
    assert i18n.say(reworded, "vi") is None
    assert i18n.translate(reworded, "TOO_LONG", "vi") == "Nội dung quá dài."
    assert i18n.translate("Plain text from elsewhere.", None, "vi") == "Plain text from elsewhere."


def test_notifications_and_claim_codes_in_both_languages() -> None:
    from aidmap.models.notification import NotificationKind
    from aidmap.resolvers.claims import sms_text

    for kind in NotificationKind:
        for side in ("requester", "donor"):
            if texts.has_text(kind, side):
                vi, en = texts.render(kind, side, "vi", "MEDICINE"), texts.render(kind, side, "en", "MEDICINE")
                assert "thuốc" in vi.body and "medicine" in en.body and vi != en
                assert len(vi.sms("https://aidmap.example/#need=1", "vi")) <= 160
    assert texts.render("PLEDGE_CREATED", "requester", "vi", "FOOD").body == (
        "Một nhà hảo tâm vừa nhận giúp yêu cầu thực phẩm của bạn."
    )
    assert sms_text(code="12345678", need_ref="TmVlZDox", phone="+84900000001") == (
        "aidmap: Yeu cau giup do da duoc gui thay ban. Ma nhan: 1234 5678, ma yeu cau: TmVlZDox. "
        "Dang ky bang so nay va nhap ma trong 14 ngay."
    )
    assert sms_text(code="12345678", need_ref="TmVlZDox", phone="+447700900001").startswith(
        "aidmap: a request for help was filed for you. Claim code 1234 5678"
    )


CANCEL = "mutation ($id: ID!) { cancelNeed(input: {needId: $id}) { errors { field message code } } }"


def test_graphql_errors_come_back_in_vietnamese(api: Api) -> None:
    """Payload errors, top-level errors and the words inside them (a status, a field, what an id names)."""
    requester, donor = sign_up(api), sign_up(api, "Người giúp")
    need = create_need(api, requester)

    def post(query: str, variables: dict[str, object], token: str, language: str) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        body: dict[str, object] = api.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        ).json()
        return body

    def payload_errors(query: str, variables: dict[str, object], token: str, language: str) -> list[dict[str, str]]:
        data = post(query, variables, token, language)["data"]
        assert isinstance(data, dict)
        (result,) = data.values()
        return [{"code": e["code"], "message": e["message"]} for e in result["errors"]]

    own = {"input": {"needId": need["id"], "quantity": 1}}
    assert payload_errors(PLEDGE, own, requester, "vi") == [
        {"code": "OWN_NEED", "message": "Bạn không thể cam kết cho yêu cầu của chính mình."}
    ]
    assert payload_errors(PLEDGE, own, requester, "en") == [
        {"code": "OWN_NEED", "message": "You cannot pledge to your own need."}
    ]
    too_many = {"input": {"needId": need["id"], "quantity": 99}}
    assert payload_errors(PLEDGE, too_many, donor, "vi-VN") == [
        {"code": "QUANTITY_EXCEEDS_OPEN", "message": f"Chỉ còn cần {need['quantity']} {need['unit']}."}
    ]
    assert payload_errors(CANCEL, {"id": need["id"]}, requester, "vi") == []
    assert payload_errors(CANCEL, {"id": need["id"]}, requester, "vi") == [
        {"code": "INVALID_STATE", "message": "Không thể hủy yêu cầu đã hủy."}
    ]
    assert payload_errors(CANCEL, {"id": need["id"]}, requester, "en") == [
        {"code": "INVALID_STATE", "message": "A cancelled need cannot be cancelled."}
    ]
    wrong_kind = {"input": {"needId": need["id"], "offerId": need["id"], "quantity": 1}}
    assert payload_errors(PLEDGE, wrong_kind, donor, "vi") == [
        {"code": "NOT_FOUND", "message": "Không có đề nghị hỗ trợ nào với mã số này."}
    ]
    too_long = {"input": need_input(title="x" * 500)}
    (long_title,) = payload_errors(CREATE_NEED, too_long, requester, "vi")
    assert re.fullmatch(r"Tiêu đề tối đa \d+ ký tự\.", long_title["message"]), long_title

    # Top-level errors (a query's bad argument) too, with their code kept.
    cursor = post('{ myNeeds(after: "nope") { edges { cursor } } }', {}, requester, "vi")
    assert cursor["errors"][0]["message"] == "Con trỏ (cursor) không hợp lệ."  # type: ignore[index]
    assert cursor["errors"][0]["extensions"]["code"] == "INVALID"  # type: ignore[index]
    node = post('{ node(id: "not-an-id") { id } }', {}, requester, "vi,en;q=0.5")
    assert node["errors"][0]["message"] == "Mã số này không hợp lệ."  # type: ignore[index]
    node = post('{ node(id: "not-an-id") { id } }', {}, requester, "en,vi;q=0.5")
    assert node["errors"][0]["message"] == "This is not a valid id."  # type: ignore[index]
