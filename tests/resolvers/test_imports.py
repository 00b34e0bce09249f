"""Bulk import (CSV, GeoJSON) with a report of failed rows and no duplicates on re-run; export as the caller may see."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aidmap import cli
from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import Api
from tests.factories import SIGN_UP, give_role, sign_up

HEADER = "external_id,category,title,details,quantity,unit,urgency,household_size,lat,lon,contact_phone,expires_at,beneficiary_name,beneficiary_phone\n"
ROWS = [
    "HK-1,FOOD,Gạo cho bà Lan,Ngõ 5,10,kg,HIGH,4,21.0288,105.8525,0912 000 001,,Bà Lan,0912 000 001",
    "HK-2,MEDICINE,Thuốc huyết áp,,2,hộp,CRITICAL,,21.0290,105.8530,0912 000 002,,,",
    "HK-3,FOOD,,,,kg,HIGH,,91,105.8,12,,,",  # no title, no quantity, bad latitude, bad phone
    "HK-4,SPACESHIP,Tên lửa,,1,cái,NORMAL,,21.0290,105.8530,0912 000 004,,,",  # unknown category
    "HK-5,STUDY_DEVICE,Máy tính bảng cho học sinh,,1,máy,NORMAL,,21.0295,105.8520,0912 000 005,2026-12-31T23:00:00+07:00,,",
]


@pytest.fixture
def operator(api: Api, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    monkeypatch.setenv("AIDMAP_SECRET_KEY", "test-secret")
    token = api.data(
        'mutation { signUp(input: {displayName: "Tổng đài 1022", phone: "0988 102 200", password: "long enough"}) { token } }'
    )["signUp"]["token"]
    give_role(db, token, "OPERATOR")
    return "0988102200"


def test_a_csv_import_writes_good_rows_reports_bad_ones_and_reruns_cleanly(
    operator: str, tmp_path: Path, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "hotline.csv"
    sheet.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")

    first = cli.main(["import", "needs", str(sheet), "--filed-by", operator])
    out = capsys.readouterr().out
    again = cli.main(["import", "needs", str(sheet), "--filed-by", operator])
    out_again = capsys.readouterr().out

    assert (first, again) == (0, 0)
    assert "imported 3, already there 0, failed 2 rows" in out
    assert "imported 0, already there 3, failed 2 rows" in out_again
    report = list(csv.DictReader(io.StringIO((tmp_path / "hotline.csv.report.csv").read_text(encoding="utf-8"))))
    assert {(r["line"], r["field"]) for r in report} == {
        ("4", "title"), ("4", "quantity"), ("4", "location"), ("4", "contactPhone"), ("5", "category"),
    }  # fmt: skip
    rows = db.execute(
        "SELECT external_id, title, beneficiary_name, filed_by_id IS NOT NULL, status FROM needs ORDER BY external_id"
    ).fetchall()
    assert rows == [
        ("HK-1", "Gạo cho bà Lan", "Bà Lan", True, "OPEN"),
        ("HK-2", "Thuốc huyết áp", None, True, "OPEN"),
        ("HK-5", "Máy tính bảng cho học sinh", None, True, "OPEN"),
    ]
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'NEED_CREATED'").fetchone() == (3,)


def test_a_geojson_import_and_only_operators_may_file(operator: str, tmp_path: Path, api: Api, db: Any) -> None:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [107.5909, 16.4637]},
         "properties": {"external_id": "HUE-1", "category": "FOOD", "title": "Mì gói", "quantity": 3, "unit": "thùng",
                        "contact_phone": "0234 3822 000"}},
    ]  # fmt: skip
    source = tmp_path / "hue.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    sign_up(api, "not an operator")

    assert cli.main(["import", "needs", str(source), "--filed-by", operator]) == 0
    assert cli.main(["import", "needs", str(source), "--filed-by", "0900000099"]) == 2
    broken = tmp_path / "broken.geojson"
    broken.write_text("[1, 2]", encoding="utf-8")
    assert cli.main(["import", "needs", str(broken), "--filed-by", operator]) == 2
    assert db.execute("SELECT title FROM needs").fetchall() == [("Mì gói",)]


def _one_need_in_ha_noi(operator: str, tmp_path: Path, database_url: str) -> None:
    """Hà Nội's wards, and one need the operator imports into them (what the export tests export)."""
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    sheet = tmp_path / "hotline.csv"
    sheet.write_text(HEADER + ROWS[0] + "\n", encoding="utf-8")
    cli.main(["import", "needs", str(sheet), "--filed-by", operator])


def test_export_writes_approximate_locations_unless_the_caller_may_see_more(
    operator: str, tmp_path: Path, database_url: str, db: psycopg.Connection[Any], api: Api
) -> None:
    _one_need_in_ha_noi(operator, tmp_path, database_url)
    public_file, operator_file = tmp_path / "public.geojson", tmp_path / "operator.csv"

    assert cli.main(["export", "needs", "--area", "01", "--output", str(public_file)]) == 0
    assert (
        cli.main(
            ["export", "needs", "--area", "00070", "--format", "csv", "--as", operator, "--output", str(operator_file)]
        )
        == 0
    )

    public = json.loads(public_file.read_text(encoding="utf-8"))["features"][0]
    assert public["properties"]["location_precision"] == "approximate_500m"
    assert public["properties"]["contact_phone"] == ""
    assert public["geometry"]["coordinates"] != [105.8525, 21.0288]
    mine = next(csv.DictReader(io.StringIO(operator_file.read_text(encoding="utf-8"))))
    assert (mine["lat"], mine["lon"], mine["contact_phone"]) == ("21.0288", "105.8525", "+84912000001")


IMPORT = """mutation ($input: ImportNeedsInput!) { importNeeds(input: $input) {
  imported skipped failed { line field message } errors { code } } }"""


def test_partners_import_through_graphql_for_their_operator(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    from aidmap.cli import partners

    key = partners.create(
        url=database_url, name="Hotline", scopes=["accounts", "import"], rate_limit_per_minute=100, allowed_origins=[]
    )[1]
    signed = api.http.post("/graphql", json={"query": 'mutation { signUp(input: {displayName: "Op", phone: "0988 555 000", password: "long enough"}) { account { id } } }'},
                           headers={"Authorization": f"Bearer {key}"}).json()["data"]["signUp"]["account"]["id"]  # fmt: skip
    headers = {"Authorization": f"Bearer {key}", "Aidmap-Act-As": signed}
    content = HEADER + "\n".join(ROWS[:3]) + "\n"

    def run() -> dict[str, Any]:
        body: dict[str, Any] = api.http.post(
            "/graphql",
            json={"query": IMPORT, "variables": {"input": {"format": "CSV", "content": content}}},
            headers=headers,
        ).json()
        return body["data"]["importNeeds"]

    not_operator = run()
    db.execute("UPDATE accounts SET roles = array_append(roles, 'OPERATOR')")
    report = run()

    assert not_operator["errors"] == [{"code": "FORBIDDEN"}]
    assert (report["imported"], report["skipped"], report["errors"]) == (2, 0, [])
    assert {f["field"] for f in report["failed"]} == {"title", "quantity", "location", "contactPhone"}
    assert run()["skipped"] == 2
    assert db.execute("SELECT count(*) FROM needs WHERE partner_id IS NOT NULL").fetchone() == (2,)


def test_an_export_with_private_fields_is_a_logged_read(
    operator: str, tmp_path: Path, database_url: str, db: psycopg.Connection[Any], api: Api
) -> None:
    _one_need_in_ha_noi(operator, tmp_path, database_url)
    admin_phone = "0987000111"
    admin = api.data(SIGN_UP, {"input": {"displayName": "Quản trị", "phone": admin_phone, "password": "long enough"}})
    give_role(db, admin["signUp"]["token"], "ADMIN")

    assert cli.main(["export", "needs", "--area", "01", "--output", str(tmp_path / "public.csv")]) == 0
    assert db.execute("SELECT count(*) FROM location_reads").fetchone() == (0,)  # the public view is no read
    assert cli.main(["export", "needs", "--area", "01", "--as", admin_phone, "--output", str(tmp_path / "a.csv")]) == 0

    logged = db.execute(
        "SELECT a.display_name, r.field, r.channel FROM location_reads r JOIN accounts a ON a.id = r.reader_id "
        "ORDER BY r.field"
    ).fetchall()
    assert logged == [("Quản trị", "CONTACT_PHONE", "EXPORT"), ("Quản trị", "EXACT_LOCATION", "EXPORT")]
