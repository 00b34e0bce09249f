"""Searches whose filter few needs match, with and without the partial indexes of migration 0033,
side by side in one run on one database: the statements the search really sends (built by
resolvers/needs.py) and the shape it sent before (the status, urgency or level as a parameter).

A quiet day is simulated on the demo set: no CRITICAL need (they are made HIGH) and one need in a
thousand EXPIRED. "Without" drops the 0033 indexes inside a transaction that is rolled back.

    .venv/bin/python bench/rare_filters.py [--needs 100000] [--calls 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ScratchDatabase, interrupt_on_sigterm  # noqa: E402

from aidmap import demo  # noqa: E402
from aidmap.db.connect import connect  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402
from aidmap.db.nearby import _nearest_sql  # noqa: E402
from aidmap.db.reader import located_columns  # noqa: E402
from aidmap.models.need import Need, NeedCategory, NeedStatus, Urgency  # noqa: E402
from aidmap.resolvers.needs import _AT_LEVEL, _search_filter  # noqa: E402

NEW_INDEXES = [
    *(f"ix_needs_open_{u}_urgency_rank_point" for u in ("critical", "high", "normal", "low")),
    *(f"ix_needs_{s}_rank_point" for s in ("pledged", "fulfilled", "cancelled", "expired")),
]
OPEN = "status IN ('OPEN', 'PARTLY_PLEDGED')"
# Every column but the id, the generated ones (cell, rank point) and the import's row id (unique per filer).
_COPIED = ", ".join(c.name for c in Need.__table__.c if c.name not in ("id", "external_id") and c.computed is None)
COPY_NEEDS = f"INSERT INTO needs ({_COPIED}) SELECT {_COPIED} FROM needs ORDER BY id LIMIT 2000"


def cases() -> list[tuple[str, tuple[str, ...], dict[str, object], tuple[str, ...], dict[str, object]]]:
    """(name, where now, its params, where before, its params)."""
    food = [NeedCategory.FOOD]
    level_now, _ = _search_filter(None, None)
    food_now, _ = _search_filter(food, None)
    expired_now, expired_p = _search_filter(None, [NeedStatus.EXPIRED])
    fulfilled_now, fulfilled_p = _search_filter(None, [NeedStatus.FULFILLED], [Urgency.CRITICAL])
    return [
        ("FOOD, nearest first (the common search)", food_now, {}, food_now, {}),
        ("most urgent first: the CRITICAL level", (*level_now, _AT_LEVEL["CRITICAL"]), {},
         (OPEN, "urgency = %(level)s::text"), {"level": "CRITICAL"}),
        ("most urgent first: FOOD, the CRITICAL level", (*food_now, _AT_LEVEL["CRITICAL"]), {},
         (*food_now, "urgency = %(level)s::text"), {"level": "CRITICAL"}),
        ("most urgent first: FOOD, the HIGH level", (*food_now, _AT_LEVEL["HIGH"]), {},
         (*food_now, "urgency = %(level)s::text"), {"level": "HIGH"}),
        ("statuses: [EXPIRED]", expired_now, expired_p, ("status = ANY(%(statuses)s::text[])",), {"statuses": ["EXPIRED"]}),
        ("statuses: [FULFILLED], urgencies: [CRITICAL]", fulfilled_now, fulfilled_p,
         ("status = ANY(%(statuses)s::text[])", "urgency = ANY(%(urgencies)s::text[])"),
         {"statuses": ["FULFILLED"], "urgencies": ["CRITICAL"]}),
    ]  # fmt: skip


def timed(conn, sql: str, params: dict[str, object], calls: int) -> float:
    """Median ms of `calls` executions as a prepared statement (as the server's pool runs it: psycopg
    prepares after two uses, and PostgreSQL may switch to a generic plan after five)."""
    for _ in range(6):
        conn.execute(sql, params, prepare=True).fetchall()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        conn.execute(sql, params, prepare=True).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    interrupt_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rare_filters.md")
    args = parser.parse_args()
    scratch = ScratchDatabase("rare")
    try:
        upgrade(scratch.url)
        demo.seed(scratch.url, needs=args.needs)
        columns = located_columns(Need.__table__)
        origin = {"lon": 105.8542, "lat": 21.0285}
        with connect(scratch.url) as conn:
            conn.execute("UPDATE needs SET urgency = 'HIGH' WHERE urgency = 'CRITICAL'")
            conn.execute("UPDATE needs SET status = 'EXPIRED' WHERE id % 1000 = 0")
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE needs")
            rows = []
            for name, now, now_p, before, before_p in cases():
                sql_now = _nearest_sql("needs", columns, now, False, False, 21)
                sql_before = _nearest_sql("needs", columns, before, False, False, 21)
                conn.execute("BEGIN")
                for index in NEW_INDEXES:
                    conn.execute(f"DROP INDEX {index}")
                without = timed(conn, sql_before, {**before_p, **origin}, args.calls)
                conn.execute("ROLLBACK")
                with_indexes = timed(conn, sql_now, {**now_p, **origin}, args.calls)
                rows.append((name, without, with_indexes))
                print(f"{name}: {without:.2f} ms -> {with_indexes:.2f} ms", flush=True)
            writes = []
            for dropped in (True, False, True, False):
                conn.execute("BEGIN")
                if dropped:
                    for index in NEW_INDEXES:
                        conn.execute(f"DROP INDEX {index}")
                started = time.perf_counter()
                conn.execute(COPY_NEEDS)  # 2,000 needs written again as new rows, every index kept up
                writes.append((dropped, (time.perf_counter() - started) * 1000))
                conn.execute("ROLLBACK")
            write_before = statistics.median(ms for dropped, ms in writes if dropped)
            write_after = statistics.median(ms for dropped, ms in writes if not dropped)
            print(f"2,000 inserts: {write_before:.1f} ms -> {write_after:.1f} ms", flush=True)
            size = conn.execute(
                "SELECT pg_size_pretty(sum(pg_relation_size(i))) FROM unnest(%s::regclass[]) AS i", [NEW_INDEXES]
            ).fetchone()[0]
    finally:
        scratch.remove()
    lines = [
        "# Searches with filters few needs match (bench/rare_filters.py)",
        "",
        f"{args.needs:,} demo needs, no CRITICAL one, one in a thousand EXPIRED; median of {args.calls} prepared "
        "executions of the search's own statement (21 rows, Hoàn Kiếm), both columns in one run on one database.",
        "",
        "| search | before 0033 (ms) | with 0033 (ms) | ratio |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.1f}x |" for name, a, b in rows),
        "",
        f"The eight partial indexes of 0033 take {size} at this size. Writing 2,000 needs (new rows, every "
        f"index kept up; median of two runs each, alternated): {write_before:.1f} ms before, {write_after:.1f} ms "
        f"with them ({write_after / write_before:.2f}x).",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
