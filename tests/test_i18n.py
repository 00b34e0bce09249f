"""Vietnamese and English error messages, chosen by Accept-Language."""

from __future__ import annotations

from aidmap import i18n
from tests.conftest import Api
from tests.factories import CREATE_NEED, need_input, sign_up


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
