"""Bulk import and export of needs: the spreadsheets hotlines kept in 2021, in and out.

Import: every row is checked with the same rules as createNeed; rows that pass are written
(in batches, each row in its own savepoint so one bad row never spoils its batch) and
announced like any new need; rows that fail are reported with their line and reason. A row
whose external_id this filer already imported is skipped, so re-running a file is harmless.
Export writes what the caller may see: approximate locations unless they may see the exact one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.sql import status_in
from aidmap.i18n import msg
from aidmap.models import Need, ReadChannel, need_fields
from aidmap.models.need import HIDDEN_STATUSES, Principal
from aidmap.models.need_fields import Kind
from aidmap.models.projection import project_need, reads_to_log
from aidmap.problems import Code, Problem, Problems
from aidmap.resolvers import needs as need_resolvers
from aidmap.resolvers.accounts import Viewer

# The file's columns (models/need_fields.py: the input fields, the point as lat and lon, and the row's own).
COLUMNS = list(need_fields.IMPORT_COLUMNS)
BATCH = 200
MAX_ROWS = 100_000


@dataclass
class RowFailure:
    line: int
    field: str | None
    message: str
    code: str | None = None


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0  # already imported (same external_id from the same filer)
    failed: list[RowFailure] = field(default_factory=list)

    def write_csv(self, out: io.TextIOBase) -> None:
        writer = csv.writer(out)
        writer.writerow(["line", "field", "reason"])
        for failure in self.failed:
            writer.writerow([failure.line, failure.field or "", failure.message])


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV with a header, not a GeoJSON FeatureCollection)."""


def parse(content: str, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    """(line or feature number, row) pairs. CSV lines count from the header (line 1)."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content))
        if reader.fieldnames is None or "title" not in reader.fieldnames:
            raise ImportFileError(
                msg("A CSV file needs a header row with at least: {columns}.", columns=", ".join(COLUMNS[1:11]))
            )
        rows = [(reader.line_num, dict(row)) for row in reader]
    elif fmt == "geojson":
        try:
            data = json.loads(content)
        except json.JSONDecodeError as error:
            raise ImportFileError(
                msg("Not JSON: {reason} (line {line}).", reason=error.msg, line=error.lineno)
            ) from None
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise ImportFileError(msg("A GeoJSON file must be a FeatureCollection of Point features."))
        rows = []
        for number, feature in enumerate(data.get("features") or [], start=1):
            properties = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            if isinstance(geometry, dict) and geometry.get("type") == "Point":
                coordinates = geometry.get("coordinates") or [None, None]
                properties["lon"], properties["lat"] = coordinates[0], coordinates[1]
            rows.append((number, properties))
    else:
        raise ImportFileError(msg("The format is csv or geojson."))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(msg("At most {n} rows per file.", n=MAX_ROWS))
    return rows


def _number(value: Any, kind: type) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return float("nan") if kind is float else -1  # fails the same checks as a bad API value


def _value(f: need_fields.NeedField, row: dict[str, Any], problems: list[Problem]) -> Any:
    """The row's value for an input field as createNeed would get it (bad numbers fail its checks later);
    a problem for values no input could hold (an unknown choice, a time without a zone)."""
    if f.kind is Kind.POINT:
        return (_number(row.get("lat"), float), _number(row.get("lon"), float))
    if f.kind is Kind.COUNT:
        return _number(row.get(f.name), int)
    if f.kind is Kind.CHOICE and f.choices is not None:
        choice = str(row.get(f.name) or f.default or "").strip().upper()
        if choice not in f.choices.__members__:
            problems.append(
                Problem(
                    f.name,
                    msg("{field} must be one of {values}.", field=f.name, values=", ".join(f.choices)),
                    Code.INVALID,
                )
            )
            return None
        return f.choices(choice)
    if f.kind is Kind.TIME:
        if not row.get(f.name):
            return None
        try:
            value = datetime.fromisoformat(str(row[f.name]))
        except ValueError:
            problems.append(Problem(f.name, msg("{field} must be an ISO 8601 time.", field=f.name), Code.INVALID))
            return None
        if value.tzinfo is None:
            problems.append(
                Problem(f.name, msg("{field} needs a time zone (e.g. +07:00).", field=f.name), Code.INVALID)
            )
        return value
    if f.required:
        return str(row.get(f.name) or "")  # empty: the check reports it missing
    return str(row[f.name]) if row.get(f.name) else None


def _fields(row: dict[str, Any]) -> tuple[need_resolvers.NeedFields, tuple[str, str] | None, str | None]:
    """NeedFields as createNeed would build them; raises Problems for values no input could hold."""
    problems: list[Problem] = []
    given = {f.name: _value(f, row, problems) for f in need_fields.INPUT_FIELDS}
    external_id = str(row.get("external_id") or "").strip() or None
    if external_id is not None and len(external_id) > 100:
        problems.append(
            Problem(
                "external_id", msg("{field} must be at most {n} characters.", field="external_id", n=100), Code.TOO_LONG
            )
        )
    if problems:
        raise Problems(problems)
    behalf = None
    if row.get("beneficiary_name") or row.get("beneficiary_phone"):
        behalf = (str(row.get("beneficiary_name") or ""), str(row.get("beneficiary_phone") or ""))
    return need_resolvers.NeedFields(given), behalf, external_id


async def import_rows(
    *,
    sessions: async_sessionmaker[AsyncSession],
    viewer: Viewer,
    rows: list[tuple[int, dict[str, Any]]],
    policy: need_resolvers.IntakePolicy,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Write the rows that pass, filed by the viewer (an operator), and report the others."""
    report = ImportReport()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        async with sessions() as session, session.begin():
            ids = [str(r.get("external_id") or "").strip() for _, r in batch]
            known = set(
                (
                    await session.execute(
                        select(Need.external_id).where(
                            Need.filed_by_id == viewer.account_id, Need.external_id.in_([i for i in ids if i])
                        )
                    )
                ).scalars()
            )
            for line, row in batch:
                try:
                    fields, behalf, external_id = _fields(row)
                    if external_id is not None and external_id in known:
                        report.skipped += 1
                        continue
                    attestation = str(row.get("attestation") or "").strip() or None
                    async with session.begin_nested():
                        need = await need_resolvers.create(
                            session=session, viewer=viewer, fields=fields, policy=policy,
                            on_behalf_of=behalf or None, attestation=attestation,
                        )  # fmt: skip
                        need.filed_by_id, need.external_id = viewer.account_id, external_id
                        await session.flush()
                    if external_id is not None:
                        known.add(external_id)
                    report.imported += 1
                except Problems as failure:
                    report.failed.extend(RowFailure(line, p.field, p.message, p.code.value) for p in failure.problems)
        if progress is not None:
            progress(len(batch))
    return report


_EXPORT = text(
    f"""
    WITH RECURSIVE area(code) AS (
        SELECT code FROM admin_areas WHERE code = :code
        UNION SELECT a.code FROM admin_areas a JOIN area ON a.parent_code = area.code
    )
    SELECT n.*, ST_Y(geometry(n.location)) AS lat, ST_X(geometry(n.location)) AS lon FROM needs n
    WHERE n.ward_code IN (SELECT code FROM area) AND {status_in(HIDDEN_STATUSES, column="n.status", negate=True)}
    ORDER BY n.id
    """
)


async def export_rows(*, session: AsyncSession, area_code: str, who: Principal) -> Iterable[dict[str, Any]]:
    """The area's public needs as this caller may see them."""
    rows = await session.execute(_EXPORT, {"code": area_code})
    out, logged = [], []
    for row in rows:
        seen = project_need(who, row, active_donor=False)
        if not seen.visible:
            continue
        if reads_to_log(who, seen):
            logged.append(row.id)
        out.append(need_fields.export_row(seen))
    if logged:  # an export is a read of every private field it carries, shown to each requester
        await need_resolvers.log_private_reads(
            session=session, need_ids=logged, reader_id=who.account_id, partner_id=who.partner_id,
            channel=ReadChannel.EXPORT,
        )  # fmt: skip
        await session.commit()
    return out


def write_export(rows: Iterable[dict[str, Any]], fmt: str, out: io.TextIOBase) -> int:
    rows = list(rows)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        features = [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
             "properties": {k: v for k, v in r.items() if k not in ("lat", "lon")}}
            for r in rows
        ]  # fmt: skip
        json.dump({"type": "FeatureCollection", "features": features}, out, ensure_ascii=False)
    return len(rows)
