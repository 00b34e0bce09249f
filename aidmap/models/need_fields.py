"""One description of a need's fields: what each is called, what it holds, who may see it, where it goes.

Every place that lists a need's fields reads this list instead of repeating it:

- input checks (resolvers/needs.py, with the bounds below) and the GraphQL inputs' translation
  into them (schema/mutation.py);
- what an edit of a verified need takes the badge away for (`resets`, resolvers/needs.py);
- import rows and export rows (resolvers/imports.py: `input` fields are importable, `export` ones exported);
- a webhook endpoint's view of the need (`webhook_need`, used by resolvers/webhooks.py) and the
  columns its event query reads (`WEBHOOK_COLUMNS`);
- the columns a live snapshot reads (events/snapshots.py, `VIEW_COLUMNS`);
- the plain fields of the GraphQL Need type (schema/types.py, `in_type`; the compiled searches'
  column fields, schema/fast/compiled.py); the strawberry classes
  themselves stay hand-written, and tests/models/test_need_fields.py checks they agree with FIELDS.

Who may see a private field (the exact location, the phone) is decided in models/need.py
(`may_see_private`) and applied in models/projection.py; the builders here take private values
only from a projection, never from the row, and refuse at import time a private field the
projection does not carry.

Adding a field: a column on models.need.Need, a migration, one NeedField line below, and the
field on the GraphQL type/inputs where it is exposed (schema/types.py, schema/inputs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aidmap.models.need import NeedCategory, NeedStatus, Urgency
from aidmap.models.projection import PROJECTION_COLUMNS, NeedProjection

# Bounds of the checks (the columns are at least this wide: tests/models/test_need_fields.py).
MAX_TITLE = 120
MAX_DETAILS = 2000
MAX_UNIT = 40
MAX_QUANTITY = 1_000_000
MAX_HOUSEHOLD = 100
MAX_PHONE_TYPED = 32  # as typed, before it is normalised to E.164
NEED_TTL = timedelta(days=14)  # how long a need is listed when no expiresAt is given


class Kind(StrEnum):
    """What a field holds, which says how it is checked, parsed from an import and written out."""

    ID = "ID"
    TEXT = "TEXT"  # trimmed, 1..max_len characters
    COUNT = "COUNT"  # a whole number in 1..maximum
    CHOICE = "CHOICE"  # a member of `choices`
    PHONE = "PHONE"  # normalised to E.164
    POINT = "POINT"  # lat/lon in WGS 84 (columns lat, lon; the public cell cell_lat, cell_lon)
    TIME = "TIME"  # an aware datetime


class Reset(StrEnum):
    """What editing the field does to a verified need (a verifier vouched for what it said)."""

    NEVER = "NEVER"  # not vouched for (expires_at: renewNeed extends a need's life and keeps the badge)
    ON_CHANGE = "ON_CHANGE"  # any change takes the badge away (a point: a move to another cell)
    ON_RAISE = "ON_RAISE"  # only asking for more does; asking for less keeps it


@dataclass(frozen=True, slots=True)
class NeedField:
    name: str  # the column (and the model attribute, and the import/export column)
    graphql: str  # its name in the API (and in input problems and webhook payloads)
    kind: Kind
    choices: type[StrEnum] | None = None
    # Set by the client: createNeed/updateNeed and import rows. False: the server sets it.
    input: bool = False
    required: bool = False  # on create, when there is no default
    default: Any = None  # on create when not given (expires_at's default is a duration from now)
    max_len: int | None = None
    maximum: int | None = None
    # Only for those who may see it (models.need.may_see_private): taken from the projection.
    private: bool = False
    resets: Reset = Reset.NEVER
    in_type: bool = False  # a plain field of the GraphQL Need type, read straight from the column
    export: bool = False
    webhook: bool = False
    export_none: str | None = None  # how an export writes "no value" (None: as null / an empty cell)

    @property
    def columns(self) -> tuple[str, ...]:
        """The row's columns for this field (a point is read as its exact and its public coordinates)."""
        return ("lat", "lon", "cell_lat", "cell_lon") if self.kind is Kind.POINT else (self.name,)


# In the order of import and export columns.
FIELDS: tuple[NeedField, ...] = (
    NeedField("id", "id", Kind.ID, export=True, webhook=True),
    NeedField("category", "category", Kind.CHOICE, choices=NeedCategory, input=True, required=True,
              resets=Reset.ON_CHANGE, in_type=True, export=True, webhook=True),
    NeedField("title", "title", Kind.TEXT, input=True, required=True, max_len=MAX_TITLE,
              resets=Reset.ON_CHANGE, in_type=True, export=True, webhook=True),
    NeedField("details", "details", Kind.TEXT, input=True, max_len=MAX_DETAILS,
              resets=Reset.ON_CHANGE, in_type=True, export=True, export_none=""),
    NeedField("quantity", "quantity", Kind.COUNT, input=True, required=True, maximum=MAX_QUANTITY,
              resets=Reset.ON_CHANGE, in_type=True, export=True, webhook=True),
    NeedField("quantity_pledged", "quantityPledged", Kind.COUNT, in_type=True, export=True, webhook=True),
    NeedField("quantity_delivered", "quantityDelivered", Kind.COUNT, in_type=True, webhook=True),
    NeedField("unit", "unit", Kind.TEXT, input=True, required=True, max_len=MAX_UNIT,
              resets=Reset.ON_CHANGE, in_type=True, export=True, webhook=True),
    NeedField("urgency", "urgency", Kind.CHOICE, choices=Urgency, input=True, default=Urgency.NORMAL,
              resets=Reset.ON_RAISE, in_type=True, export=True, webhook=True),
    NeedField("household_size", "householdSize", Kind.COUNT, input=True, maximum=MAX_HOUSEHOLD,
              resets=Reset.ON_RAISE, in_type=True),
    NeedField("status", "status", Kind.CHOICE, choices=NeedStatus, in_type=True, export=True, webhook=True),
    NeedField("ward_code", "wardCode", Kind.TEXT, export=True, webhook=True),
    NeedField("location", "location", Kind.POINT, input=True, required=True, private=True,
              resets=Reset.ON_CHANGE, export=True, webhook=True),
    NeedField("contact_phone", "contactPhone", Kind.PHONE, input=True, required=True, max_len=MAX_PHONE_TYPED,
              private=True, resets=Reset.ON_CHANGE, export=True, webhook=True, export_none=""),
    NeedField("created_at", "createdAt", Kind.TIME, in_type=True, export=True),
    NeedField("updated_at", "updatedAt", Kind.TIME, in_type=True),
    NeedField("expires_at", "expiresAt", Kind.TIME, input=True, default=NEED_TTL, in_type=True, export=True, webhook=True),
)  # fmt: skip

FIELD: dict[str, NeedField] = {f.name: f for f in FIELDS}
INPUT_FIELDS = tuple(f for f in FIELDS if f.input)
TYPE_FIELDS = tuple(f for f in FIELDS if f.in_type)
EXPORT_FIELDS = tuple(f for f in FIELDS if f.export)
WEBHOOK_FIELDS = tuple(f for f in FIELDS if f.webhook)

# The import file's columns: the input fields (a point as lat and lon) between the row's own.
IMPORT_COLUMNS: tuple[str, ...] = (
    "external_id",
    *(c for f in INPUT_FIELDS for c in (("lat", "lon") if f.kind is Kind.POINT else (f.name,))),
    "beneficiary_name", "beneficiary_phone",
    # Optional: another aidmap deployment's attestation of the row's need (its Need.verification.attestation).
    "attestation",
)  # fmt: skip

# Every input is bounded: text and phones by a length, counts by a maximum (checked at import time).
_unbounded = [
    f.name for f in INPUT_FIELDS
    if (f.kind in (Kind.TEXT, Kind.PHONE) and f.max_len is None) or (f.kind is Kind.COUNT and f.maximum is None)
]  # fmt: skip
if _unbounded:
    raise RuntimeError(f"need input fields without bounds: {_unbounded}")

# What a private field is in a projection (models/projection.py). A private field missing here
# would have no projected value: refused now rather than read from the row and leaked.
_PROJECTED = {"location": "exact", "contact_phone": "contact_phone"}
_unprojected = [f.name for f in FIELDS if f.private and f.name not in _PROJECTED]
if _unprojected:
    raise RuntimeError(f"private need fields with no place in NeedProjection: {_unprojected}")

# Columns a need's API view is built from besides FIELDS: who it belongs to and the private state
# behind Need.verification, onBehalfOf, rejectedReason and possibleDuplicateOf (schema/types.py,
# Need.from_projection), and what models.projection.project_need decides with.
VIEW_EXTRA_COLUMNS = (
    "owner_id", "filed_by_id", "partner_id", "beneficiary_name", "beneficiary_phone", "verified_at",
    "attested_by_id", "received_attestation", "rejected_reason", "possible_duplicate_of_id",
)  # fmt: skip
VIEW_COLUMNS: tuple[str, ...] = (*(c for f in FIELDS for c in f.columns), *VIEW_EXTRA_COLUMNS)
# What a webhook delivery reads of the event's need (resolvers/webhooks.py, EVENT_ROW): the columns of
# WEBHOOK_FIELDS and what project_need reads (the point as its exact coordinates, which project_need
# snaps to the cell). The id is the event's need_id.
WEBHOOK_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys((*(f.name for f in WEBHOOK_FIELDS if f.kind not in (Kind.ID, Kind.POINT)), *PROJECTION_COLUMNS))
)
_POINT_SQL = {
    "lat": "ST_Y(geometry({p}location)) AS lat",
    "lon": "ST_X(geometry({p}location)) AS lon",
    "cell_lat": "ST_Y(geometry({p}cell)) AS cell_lat",
    "cell_lon": "ST_X(geometry({p}cell)) AS cell_lon",
}


def select_list(alias: str = "", columns: tuple[str, ...] = VIEW_COLUMNS) -> str:
    """A select list of these columns (VIEW_COLUMNS unless told) from `needs` (points as plain floats)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(_POINT_SQL[c].format(p=prefix) if c in _POINT_SQL else f"{prefix}{c}" for c in columns)


def _point(lon_lat: tuple[float, float] | None) -> dict[str, float] | None:
    return {"lat": lon_lat[1], "lon": lon_lat[0]} if lon_lat is not None else None


def webhook_need(seen: NeedProjection, *, global_id: str) -> dict[str, Any]:
    """A webhook endpoint's view of the need: WEBHOOK_FIELDS by their API names, the exact point and
    the phone only where the projection carries them (else null)."""
    row, body = seen.need, {}
    for f in WEBHOOK_FIELDS:
        if f.kind is Kind.ID:
            body[f.graphql] = global_id
        elif f.kind is Kind.POINT:
            body["approximateLocation"] = _point(seen.approximate)
            body["exactLocation"] = _point(seen.exact)
        elif f.private:
            body[f.graphql] = getattr(seen, _PROJECTED[f.name])
        else:
            value = getattr(row, f.name)
            body[f.graphql] = value.isoformat() if f.kind is Kind.TIME and value is not None else value
    return body


def export_row(seen: NeedProjection) -> dict[str, Any]:
    """An export's row: EXPORT_FIELDS by column name, the point exact only where the projection
    carries it (and says which it is in location_precision), the phone likewise."""
    row, out = seen.need, {}
    for f in EXPORT_FIELDS:
        if f.kind is Kind.POINT:
            lon, lat = seen.exact or seen.approximate
            out["lat"], out["lon"] = lat, lon
            out["location_precision"] = "exact" if seen.private else "approximate_500m"
            continue
        value = getattr(seen, _PROJECTED[f.name]) if f.private else getattr(row, f.name)
        if value is None:
            value = f.export_none
        elif f.kind is Kind.TIME:
            value = value.isoformat()
        out[f.name] = value
    return out
