"""Execute a live event's selection once and reuse the result for every subscriber who asked the same.

A need created in a dense district may concern thousands of `needsNearby` subscribers
of one process. Their payloads differ only in `distanceMeters` (and in the need's
private fields, for the few who may see them), so the selection is executed once per
(event, document, privacy class, variables used in the selection), and each further
subscriber gets a copy with its own distance patched in.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult, FieldNode, OperationDefinitionNode, OperationType, VariableNode, visit
from graphql.language import Visitor
from graphql.pyutils import RefMap

from aidmap.bounded import BoundedDict
from aidmap.schema.fast.plain_fields import PlainFieldsExecutionContext

SHARED_ROOT_FIELDS = frozenset({"needsNearby", "offersNearby"})


@dataclass(frozen=True)
class SelectionPlan:
    root_key: str
    distance_keys: tuple[str, ...]
    # Variables the payload's selection uses (None: could not tell, so all count).
    selection_variables: frozenset[str] | None
    # False when the selection reaches a field whose answer depends on who asks beyond what the share
    # key says (Need.pledges, rejectedReason, reports, Account.phone...): then a result is shared only
    # between subscriptions of the same viewer, never handed to another.
    viewer_independent: bool = False


_GEO: dict[str, Any] = {"lat": None, "lon": None, "__typename": None}
_AREA: dict[str, Any] = dict.fromkeys(("code", "name", "nameEn", "fullName", "level", "__typename"))
# Fields whose answer is the same for every viewer with the same share key (event, privacy class,
# is-mine): an allow-list, so a field added later is viewer-scoped until someone says otherwise.
PUBLIC_SELECTION: dict[str, Any] = {
    **dict.fromkeys(("cursor", "kind", "distanceMeters", "__typename")),
    "need": {
        **dict.fromkeys((
            "id", "category", "title", "details", "quantity", "unit", "urgency", "householdSize", "status",
            "quantityPledged", "quantityDelivered", "expiresAt", "createdAt", "updatedAt", "isMine",
            "contactPhone", "__typename",
        )),
        "approximateLocation": _GEO, "exactLocation": _GEO, "ward": _AREA,
        "verification": {"verifiedAt": None, "area": _AREA, "__typename": None},
    },
    "offer": {
        **dict.fromkeys((
            "id", "category", "title", "details", "quantity", "quantityPledged", "unit", "radiusMeters",
            "availableUntil", "status", "createdAt", "isMine", "__typename",
        )),
        "approximateLocation": _GEO, "exactLocation": _GEO,
        "donor": {"id": None, "displayName": None, "__typename": None},
    },
}  # fmt: skip


def _viewer_independent(selection_set: Any, allowed: dict[str, Any]) -> bool:
    for node in selection_set.selections:
        if not isinstance(node, FieldNode) or node.name.value not in allowed:
            return False  # a fragment, or a field not known to be the same for everyone
        below = allowed[node.name.value]
        if node.selection_set is not None and (below is None or not _viewer_independent(node.selection_set, below)):
            return False
    return True


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


# id(operation) -> (the operation, its serial number, its plan). Entries hold the operation, so its id
# cannot be reused while it is here; an evicted operation seen again gets a new serial number, so
# results cached under the old one are never handed to a different document.
KEEP_PLANS = 1024
_plans: BoundedDict[int, tuple[OperationDefinitionNode, int, SelectionPlan | None]] = BoundedDict(KEEP_PLANS)
_serials = itertools.count()


class SharedResults:
    """One app's cache of executed event selections (per app: each app has its own event sequence)."""

    # A result is worth keeping while its event is being delivered to every subscriber of the process;
    # 512 recent events, like events/snapshots.py (4,096 held several minutes of a busy soak's events).
    def __init__(self, *, enabled: bool = True, keep: int = 512) -> None:
        self.enabled = enabled
        self.executions = 0  # selections actually executed (for tests and bench/fanout.py)
        self.results: BoundedDict[tuple[Any, ...], asyncio.Future[ExecutionResult]] = BoundedDict(keep)
        # The same results as graphql-transport-ws `next` messages with the operation id and distances
        # left out, encoded once (schema/fast/live_socket.py); None for a result that cannot be shared.
        self.encoded: BoundedDict[tuple[Any, ...], MessageTemplate | None] = BoundedDict(keep)
        # The live batch's (schema/fast/live_batch.py): by event, document, variables and visibility class.
        self.frames: BoundedDict[tuple[Any, ...], MessageTemplate | None] = BoundedDict(keep)


def _plan(operation: OperationDefinitionNode, has_fragments: bool) -> SelectionPlan | None:
    selections = operation.selection_set.selections
    if operation.operation is not OperationType.SUBSCRIPTION or len(selections) != 1:
        return None
    root = selections[0]
    if not isinstance(root, FieldNode) or root.name.value not in SHARED_ROOT_FIELDS or root.selection_set is None:
        return None
    distance_keys = []
    for node in root.selection_set.selections:
        if not isinstance(node, FieldNode):
            return None  # a fragment at this level might hide distanceMeters: execute per subscriber
        if node.name.value == "distanceMeters":
            distance_keys.append(node.alias.value if node.alias else node.name.value)
    variables = None
    if not has_fragments:
        collector = _Variables()
        visit(root.selection_set, collector)
        variables = frozenset(collector.names)
    return SelectionPlan(
        root_key=root.alias.value if root.alias else root.name.value,
        distance_keys=tuple(distance_keys),
        selection_variables=variables,
        viewer_independent=_viewer_independent(root.selection_set, PUBLIC_SELECTION),
    )


_ID_MARK = "\x00aidmap-operation-id\x00"
_DISTANCE_MARK = "\x00aidmap-distance\x00"
_MARKS = re.compile(rb'"\\u0000aidmap-(operation-id|distance)\\u0000"')


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A `next` message encoded once, with holes for the operation id and the distances.

    Filled, it is byte for byte what the ordinary path sends (strawberry's `send_next` through the
    app's orjson `encode_json`): the same keys in the same order, the same encoder."""

    parts: tuple[bytes, ...]  # text between the holes
    holes: tuple[bool, ...]  # per hole: True for the operation id, False for a distance

    @classmethod
    def of(cls, plan: SelectionPlan, data: Any) -> MessageTemplate | None:
        if not isinstance(data, dict) or not isinstance(data.get(plan.root_key), dict) or len(data) != 1:
            return None
        event = dict(data[plan.root_key])
        for key in plan.distance_keys:
            event[key] = _DISTANCE_MARK
        try:
            encoded = orjson.dumps({"id": _ID_MARK, "type": "next", "payload": {"data": {plan.root_key: event}}})
        except TypeError:
            return None  # what orjson cannot encode takes the ordinary way (json.dumps)
        holes = [m.group(1) == b"operation-id" for m in _MARKS.finditer(encoded)]
        if holes.count(True) != 1 or holes.count(False) != len(plan.distance_keys):
            return None  # a value of the need spelled like a mark: never guess
        return cls(parts=tuple(_MARKS.split(encoded)[::2]), holes=tuple(holes))

    def fill(self, operation_id: bytes, distance: bytes) -> bytes:
        """The message for one subscriber (`operation_id`, `distance`: their JSON)."""
        out = [self.parts[0]]
        for is_id, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(operation_id if is_id else distance)
            out.append(part)
        return b"".join(out)


def _patched(result: ExecutionResult, plan: SelectionPlan, distance: float) -> ExecutionResult:
    data = result.data
    if result.errors or not isinstance(data, dict) or not isinstance(data.get(plan.root_key), dict):
        return result
    event = dict(data[plan.root_key])
    for key in plan.distance_keys:
        event[key] = distance
    return ExecutionResult(data={plan.root_key: event}, errors=None)


class SharingExecutionContext(PlainFieldsExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        """A subscription event's executor, with memos of its own.

        graphql-core (3.3) makes it a shallow copy of the subscription's executor, so every event of a
        subscription shares one memo of collected subfields. That memo is keyed by the identity of
        field lists each event builds anew: it gained an entry per event (~1 KB) for as long as the
        subscription stayed open, the slow RSS growth `bench/soak.py` found (+12% in 10 minutes).
        """
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        return executor

    def plan_key(self) -> tuple[SharedResults, SelectionPlan, tuple[Any, ...]] | None:
        """(cache, plan, the part of the share key fixed for the subscription: document, variables, viewer)."""
        cache: SharedResults | None = getattr(self.context_value, "shared_results", None)
        if cache is None or not cache.enabled:
            return None
        operation = self.operation
        entry = _plans.get(id(operation))
        if entry is None or entry[0] is not operation:
            entry = _plans[id(operation)] = (operation, next(_serials), _plan(operation, bool(self.fragments)))
        else:
            _plans.move_to_end(id(operation))
        _, serial, plan = entry
        if plan is None:
            return None
        variables = getattr(self.variable_values, "coerced", self.variable_values) or {}
        used = sorted(
            (name, repr(value))
            for name, value in variables.items()
            if plan.selection_variables is None or name in plan.selection_variables
        )
        viewer: Any = None
        if not plan.viewer_independent:
            who = getattr(self.context_value, "principal", None)
            viewer = ("viewer", who.account_id, who.partner_id) if who is not None else ("viewer", None, None)
        return cache, plan, (serial, tuple(used), viewer)

    def shared_key(self) -> tuple[SharedResults, SelectionPlan, tuple[Any, ...]] | None:
        """(cache, plan, key) when this event's result can be shared, else None."""
        share_key = getattr(self.root_value, "share_key", None)
        if share_key is None:
            return None
        planned = self.plan_key()
        if planned is None:
            return None
        cache, plan, fixed = planned
        return cache, plan, (share_key, *fixed)

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared_key = self.shared_key()
        if shared_key is None:
            return super().execute_operation(serially)
        cache, plan, key = shared_key
        shared = cache.results.get(key)
        if shared is None:
            cache.executions += 1
            outcome = super().execute_operation(serially)
            shared = asyncio.ensure_future(_as_coroutine(outcome))
            cache.results[key] = shared
        distance = self.root_value.distance_meters
        if shared.done():
            return _patched(shared.result(), plan, distance)
        return _finish(shared, plan, distance)


async def _as_coroutine(outcome: ExecutionResult | Awaitable[ExecutionResult]) -> ExecutionResult:
    if isinstance(outcome, ExecutionResult):
        return outcome
    return await outcome


async def _finish(shared: asyncio.Future[ExecutionResult], plan: SelectionPlan, distance: float) -> ExecutionResult:
    return _patched(await asyncio.shield(shared), plan, distance)
