"""A realistic demo data set: people, needs, offers and pledges around five Vietnamese cities.

Rows go in with COPY, so `--needs 1000000` for benchmarks takes seconds, not hours.
Every demo account signs in with its phone (0900 000 001, 0900 000 002, ...) and DEMO_PASSWORD.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import psycopg

from aidmap.db.connect import connect
from aidmap.resolvers.accounts import password_hasher
from aidmap.resolvers.areas import BACKFILL_WARDS, BUNDLED, areas_are_empty, import_files

DEFAULT_NEEDS = 3000
DEMO_PASSWORD = "aidmap-demo"

# (name, lat, lon, spread in km, share of needs)
CITIES = [
    ("Hà Nội", 21.0285, 105.8542, 9.0, 0.32),
    ("TP. Hồ Chí Minh", 10.7769, 106.7009, 11.0, 0.36),
    ("Huế", 16.4637, 107.5909, 5.0, 0.12),
    ("Tây Ninh", 11.3100, 106.0983, 6.0, 0.10),
    ("Vũng Tàu", 10.3460, 107.0843, 5.0, 0.10),
]

FAMILY_NAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Dương",
]
GIVEN_NAMES = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Mai",
    "Minh",
    "Nam",
    "Ngọc",
    "Phúc",
    "Quân",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vy",
]

# category -> [(Vietnamese title, English title, unit range, unit)]
NEEDS_BY_CATEGORY: dict[str, list[tuple[str, str, tuple[int, int], str]]] = {
    "FOOD": [
        ("Cần gạo cho gia đình đang cách ly", "Rice for a family in quarantine", (5, 30), "kg"),
        ("Cần rau củ và trứng", "Vegetables and eggs", (2, 10), "phần"),
        ("Sữa cho em bé", "Milk for a baby", (2, 12), "hộp"),
        ("Mì gói và đồ khô", "Instant noodles and dry food", (1, 5), "thùng"),
    ],
    "MEDICINE": [
        ("Thuốc hạ sốt cho người già", "Fever medicine for an elderly person", (1, 4), "hộp"),
        ("Cần thuốc huyết áp", "Blood pressure medication", (1, 3), "vỉ"),
        ("Máy đo SpO2", "Pulse oximeter", (1, 1), "cái"),
    ],
    "STUDY_DEVICE": [
        ("Cần máy tính để học trực tuyến", "Laptop for online school", (1, 2), "máy"),
        ("Điện thoại cũ cho học sinh", "Used smartphone for a pupil", (1, 2), "chiếc"),
        ("Thẻ 4G để con học online", "4G data card for online classes", (1, 3), "thẻ"),
    ],
    "MEDICAL_CONSULTATION": [
        ("Cần bác sĩ tư vấn qua điện thoại", "Phone consultation with a doctor", (1, 1), "lần"),
        ("Tư vấn cho F0 điều trị tại nhà", "Advice for a COVID patient at home", (1, 1), "lần"),
    ],
    "ESSENTIALS": [
        ("Khẩu trang và nước rửa tay", "Masks and hand sanitiser", (1, 10), "hộp"),
        ("Tã giấy cho trẻ em", "Nappies for a toddler", (1, 4), "bịch"),
        ("Bình gas nấu ăn", "Cooking gas cylinder", (1, 1), "bình"),
    ],
    "ERRAND": [
        ("Nhờ đi chợ giúp", "Help with grocery shopping", (1, 1), "lần"),
        ("Nhờ lấy thuốc ở nhà thuốc", "Pick up medicine from the pharmacy", (1, 1), "lần"),
    ],
    "OTHER": [
        ("Cần người sửa điện nước", "Someone to fix plumbing", (1, 1), "lần"),
        ("Hỗ trợ tiền điện tháng này", "Help with this month's electricity bill", (1, 1), "tháng"),
    ],
}
CATEGORY_WEIGHTS = {
    "FOOD": 35,
    "MEDICINE": 18,
    "STUDY_DEVICE": 12,
    "MEDICAL_CONSULTATION": 8,
    "ESSENTIALS": 14,
    "ERRAND": 8,
    "OTHER": 5,
}
URGENCIES = (["LOW"] * 2) + (["NORMAL"] * 5) + (["HIGH"] * 2) + ["CRITICAL"]

OFFERS_BY_CATEGORY = {
    "FOOD": ("Tặng gạo và rau", "Free rice and vegetables", "kg"),
    "MEDICINE": ("Có thuốc hạ sốt dư", "Spare fever medicine", "hộp"),
    "STUDY_DEVICE": ("Tặng laptop cũ còn dùng tốt", "Used laptop in good condition", "máy"),
    "MEDICAL_CONSULTATION": ("Bác sĩ tình nguyện tư vấn", "Volunteer doctor for phone advice", "lần"),
    "ESSENTIALS": ("Khẩu trang, nước rửa tay", "Masks and sanitiser", "hộp"),
    "ERRAND": ("Chạy việc vặt bằng xe máy", "Errands by motorbike", "lần"),
    "OTHER": ("Thợ sửa chữa tình nguyện", "Volunteer handyman", "lần"),
}


def database_is_empty(url: str) -> bool:
    with connect(url) as conn:
        return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM accounts)").fetchone() == (True,)


def _scatter(rng: random.Random, lat: float, lon: float, spread_km: float) -> tuple[float, float]:
    """A point around a centre, denser near it (gaussian), as people are in a city."""
    d_lat = rng.gauss(0, spread_km / 2) / 111.32
    d_lon = rng.gauss(0, spread_km / 2) / (111.32 * math.cos(math.radians(lat)))
    return lat + d_lat, lon + d_lon


def _pick_city(rng: random.Random) -> tuple[str, float, float, float, float]:
    return rng.choices(CITIES, weights=[c[4] for c in CITIES])[0]


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, *, needs: int | None = None, offers: int | None = None, seed_value: int = 2021) -> dict[str, int]:
    """Insert the demo set (deterministic for a given seed); returns how many rows of each kind.

    One offer per donor unless `offers` asks for more (donors then make several).
    """
    n_needs = DEFAULT_NEEDS if needs is None else needs
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    n_requesters = max(10, min(n_needs // 3, 20_000))
    n_donors = max(5, min(n_needs // 6, 10_000))
    password_hash = password_hasher("RFC_9106_LOW_MEMORY").hash(DEMO_PASSWORD)
    categories = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())

    if areas_are_empty(url):
        # The real ward boundaries shipped with the package, so demo needs have wards.
        import_files(url, sorted(BUNDLED.glob("*.geojson")))
    with connect(url) as conn:
        first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM accounts").fetchone()[0]  # type: ignore[index]
        first_phone = (
            900_000_001 + conn.execute("SELECT count(*) FROM accounts WHERE phone LIKE '+849000%'").fetchone()[0]
        )  # type: ignore[index]
        accounts = []
        for i in range(n_requesters + n_donors):
            name = f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}"
            # Everyone may ask and give (as signUp grants); the split only says who posts the demo's offers.
            roles = "{REQUESTER,DONOR}"
            accounts.append((first_id + i, name, f"+84{first_phone + i}", password_hash, roles))
        _copy(conn, "accounts", ["id", "display_name", "phone", "password_hash", "roles"], accounts)
        conn.execute("SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT max(id) FROM accounts))")
        requester_ids = [a[0] for a in accounts[:n_requesters]]
        donor_ids = [a[0] for a in accounts[n_requesters:]]

        need_rows = []
        for _ in range(n_needs):
            category = rng.choices(categories, weights=weights)[0]
            vi, en, (lo, hi), unit = rng.choice(NEEDS_BY_CATEGORY[category])
            _, lat, lon, spread, _ = _pick_city(rng)
            plat, plon = _scatter(rng, lat, lon, spread)
            owner = rng.choice(requester_ids)
            created = now - timedelta(minutes=rng.randint(5, 60 * 24 * 6))
            # Titles in Vietnamese, like the page (an English line in half the details, for visitors); the
            # draw that used to pick the language stays, so the rest of the data set is as before.
            rng.random()
            title = vi
            details = f"{vi}. ({en}.)" if rng.random() < 0.5 else None
            need_rows.append(
                (
                    owner,
                    category,
                    title,
                    details,
                    rng.randint(lo, hi),
                    unit,
                    rng.choice(URGENCIES),
                    rng.randint(1, 7),
                    f"SRID=4326;POINT({plon:.6f} {plat:.6f})",
                    f"+84{first_phone + owner - first_id}",
                    created + timedelta(days=14),
                    created,
                    created,
                )
            )
        _copy(
            conn,
            "needs",
            [
                "owner_id",
                "category",
                "title",
                "details",
                "quantity",
                "unit",
                "urgency",
                "household_size",
                "location",
                "contact_phone",
                "expires_at",
                "created_at",
                "updated_at",
            ],
            need_rows,
        )

        offer_rows = []
        for i in range(len(donor_ids) if offers is None else offers):
            donor = donor_ids[i % len(donor_ids)]
            category = rng.choices(categories, weights=weights)[0]
            vi, en, unit = OFFERS_BY_CATEGORY[category]
            _, lat, lon, spread, _ = _pick_city(rng)
            plat, plon = _scatter(rng, lat, lon, spread)
            offer_rows.append(
                (
                    donor,
                    category,
                    vi,
                    None if rng.random() < 0.7 else f"({en}.)",
                    rng.randint(1, 40),
                    unit,
                    f"SRID=4326;POINT({plon:.6f} {plat:.6f})",
                    float(rng.choice([1000, 2000, 3000, 5000, 10000])),
                    now + timedelta(days=rng.randint(3, 30)),
                )
            )
        _copy(
            conn,
            "offers",
            [
                "donor_id",
                "category",
                "title",
                "details",
                "quantity",
                "unit",
                "location",
                "radius_meters",
                "available_until",
            ],
            offer_rows,
        )

        # About one need in six gets a pledge from a random donor; a third of those are delivered.
        conn.execute("SELECT setseed(0.2021)")
        conn.execute(
            """
            INSERT INTO pledges (need_id, donor_id, quantity, status, created_at, delivered_at, accepted_at)
            SELECT n.id, (%(donors)s::bigint[])[1 + floor(random() * %(n_donors)s::int)::int],
                   greatest(1, ceil(n.quantity * (0.3 + random() * 0.7)))::int,
                   CASE WHEN random() < 0.33 THEN 'DELIVERED' ELSE 'PLEDGED' END,
                   n.created_at + interval '30 minutes', NULL, n.created_at + interval '30 minutes'
            FROM needs n
            WHERE n.id > (SELECT coalesce(max(need_id), 0) FROM pledges) AND random() < 0.16
            """,
            {"donors": donor_ids, "n_donors": len(donor_ids)},
        )
        conn.execute(
            "UPDATE pledges SET delivered_at = created_at + interval '3 hours' WHERE status = 'DELIVERED' AND delivered_at IS NULL"
        )
        conn.execute(
            """
            UPDATE needs n SET quantity_pledged = p.pledged, quantity_delivered = p.delivered,
                status = CASE WHEN p.delivered >= n.quantity THEN 'FULFILLED'
                              WHEN p.pledged >= n.quantity THEN 'PLEDGED' ELSE 'PARTLY_PLEDGED' END
            FROM (SELECT need_id, sum(quantity) AS pledged,
                         coalesce(sum(quantity) FILTER (WHERE status = 'DELIVERED'), 0) AS delivered
                  FROM pledges GROUP BY need_id) AS p
            WHERE p.need_id = n.id
            """
        )
        conn.execute(BACKFILL_WARDS)
        conn.execute("ANALYZE")
        n_pledges = conn.execute("SELECT count(*) FROM pledges").fetchone()[0]  # type: ignore[index]
    return {"accounts": len(accounts), "needs": n_needs, "offers": len(offer_rows), "pledges": int(n_pledges)}
