"""Ward boundaries (real data, Hà Nội and TP. Hồ Chí Minh) and the ward of each need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aidmap import cli
from aidmap.resolvers.areas import BUNDLED, AreaFileError, import_files
from tests.conftest import Api
from tests.factories import create_need, sign_up

WARD = "query ($id: ID!) { node(id: $id) { ... on Need { ward { code name nameEn level } } } }"
HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
BEN_THANH = {"lat": 10.7769, "lon": 106.7009}


def test_a_need_gets_the_ward_its_point_is_in(api: Api, database_url: str) -> None:
    token = sign_up(api)
    before = create_need(api, token, title="posted before the import", location=BEN_THANH)

    count = import_files(database_url, [BUNDLED / "01_ha_noi.geojson", BUNDLED / "79_ho_chi_minh.geojson"])
    lake = create_need(api, token, title="by the lake", location=HOAN_KIEM_LAKE)
    at_sea = create_need(api, token, title="off the map", location={"lat": 0.0, "lon": 0.0})

    assert count > 200
    assert api.data(WARD, {"id": lake["id"]})["node"]["ward"] == {
        "code": "00070", "name": "Hoàn Kiếm", "nameEn": "Hoan Kiem", "level": "ward",
    }  # fmt: skip
    # The import gives needs that were waiting their ward too.
    assert api.data(WARD, {"id": before["id"]})["node"]["ward"]["name"] == "Sài Gòn"
    assert api.data(WARD, {"id": at_sea["id"]})["node"]["ward"] is None


def test_moving_a_need_moves_its_ward(api: Api, database_url: str) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson", BUNDLED / "79_ho_chi_minh.geojson"])
    token = sign_up(api)
    need = create_need(api, token, location=HOAN_KIEM_LAKE)
    api.data(
        "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { errors { code } } }",
        {"input": {"needId": need["id"], "location": BEN_THANH}},
        token,
    )
    assert api.data(WARD, {"id": need["id"]})["node"]["ward"]["code"] == "26740"


def test_a_bad_file_imports_nothing(tmp_path: Path, database_url: str, db: psycopg.Connection[Any]) -> None:
    good = json.loads((BUNDLED / "46_hue.geojson").read_text())
    broken = {
        "type": "FeatureCollection",
        "features": [*good["features"][:3], {"type": "Feature", "properties": {"name": "x"}}],
    }
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(broken))

    with pytest.raises(AreaFileError, match="feature 4"):
        import_files(database_url, [BUNDLED / "46_hue.geojson", path])
    assert db.execute("SELECT count(*) FROM admin_areas").fetchone() == (0,)


def test_the_areas_import_command(
    monkeypatch: pytest.MonkeyPatch, database_url: str, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    assert cli.main(["areas", "import", str(BUNDLED / "46_hue.geojson")]) == 0
    assert "imported 41 areas" in capsys.readouterr().out
    assert db.execute("SELECT name FROM admin_areas WHERE level = 'province'").fetchall() == [("Huế",)]
    assert cli.main(["areas", "import", str(BUNDLED / "LICENSE")]) == 2
