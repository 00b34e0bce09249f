"""Limits on what one GraphQL document may ask: fragment spreads, depth, aliases, tokens, cost,
introspection, partner scopes.

Every check is linear in the size of the document: each fragment definition is measured once
(memoised, a cycle counts as nothing: NoFragmentCyclesRule reports it) and reused for every
spread of it, so a fragment bomb (F1 spreads F0 twice, F2 spreads F1 twice...) costs as little
to refuse as it costs to read. strawberry's QueryDepthLimiter and MaxAliasesLimiter expand every
spread again (2^n for n fragments): they are not used.

Tokens are limited while parsing; spreads, depth and aliases right after (document_errors, before
graphql-core's validation, also on the websocket path, schema/fast/live_socket.py); cost and partner
scopes need the variables, so they are checked just before execution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.validation import ASTValidationRule
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from aidmap.i18n import msg, translate
from aidmap.models import Scope
from aidmap.models.need import NeedOrder
from aidmap.resolvers import collection_points
from aidmap.resolvers.areas import MAX_OUTLINES
from aidmap.resolvers.needs import searches_per_page
from aidmap.schema.ids import from_global_id

log = logging.getLogger(__name__)

# Counts saturate here: a bomb's true count (2^60) is as refused as this, and stays a small int.
SATURATED = 1 << 40


@dataclass(frozen=True)
class Limits:
    dev: bool = False
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 800
    max_cost: int = 5000
    max_fragment_spreads: int = 500
    # Fragments spread within fragments within...: graphql-core aborts validation past ~80 without
    # saying why; real clients nest a handful.
    max_fragment_nesting: int = 30

    def validation_rules(self) -> list[type[ASTValidationRule]]:
        return [] if self.dev else [NoSchemaIntrospectionCustomRule]

    def document_errors(self, document: DocumentNode) -> list[GraphQLError]:
        """Spreads, depth and aliases, in one linear pass; [] when the document is within them."""
        return document_errors(document, self)


def too_complex(message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": "QUERY_TOO_COMPLEX"})


def _selection_sets(document: DocumentNode) -> Iterator[SelectionSetNode]:
    """Every selection set of the document once (iteratively: no recursion limit to hit)."""
    stack = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while stack:
        selection_set = stack.pop()
        yield selection_set
        for selection in selection_set.selections:
            child = getattr(selection, "selection_set", None)
            if child is not None:
                stack.append(child)


def count_spreads(document: DocumentNode) -> int:
    return sum(isinstance(s, FragmentSpreadNode) for ss in _selection_sets(document) for s in ss.selections)


class _PerFragment:
    """measure(selection_set) with every fragment measured once: `combine` folds a selection set's
    selections, `spread` is a fragment's value (memoised; 0 while it is being measured: a cycle)."""

    def __init__(self, document: DocumentNode, measure: Callable[[_PerFragment, SelectionSetNode], int]) -> None:
        self.fragments = _fragments(document)
        self._measure = measure
        self._memo: dict[str, int] = {}

    def __call__(self, selection_set: SelectionSetNode) -> int:
        return self._measure(self, selection_set)

    def spread(self, name: str) -> int:
        known = self._memo.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0  # unknown fragment: validation reports it
        self._memo[name] = 0  # in progress: a cycle through here counts nothing
        value = self._memo[name] = self._measure(self, fragment.selection_set)
        return value


def _depth(walk: _PerFragment, selection_set: SelectionSetNode) -> int:
    # The deepest level of a selection below this set (its own selections are level 0), counted as
    # strawberry's limiter counts: introspection fields (__schema, __type) are not counted.
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is not None and not selection.name.value.startswith("__"):
                deepest = max(deepest, 1 + walk(selection.selection_set))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, walk(selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, walk.spread(selection.name.value))
    return deepest


def _nesting(walk: _PerFragment, selection_set: SelectionSetNode) -> int:
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, 1 + walk.spread(selection.name.value))
        else:
            child = getattr(selection, "selection_set", None)
            if child is not None:
                deepest = max(deepest, walk(child))
    return deepest


def _aliases(walk: _PerFragment, selection_set: SelectionSetNode) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += selection.alias is not None
            if selection.selection_set is not None:
                total += walk(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            total += walk(selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            total += walk.spread(selection.name.value)
    return min(total, SATURATED)


def document_errors(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    spreads = count_spreads(document)
    if spreads > limits.max_fragment_spreads:
        # Before any other analysis: nothing else is looked at in a document this convoluted.
        return [too_complex(f"The document has {spreads} fragment spreads, at most {limits.max_fragment_spreads}.")]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    errors: list[GraphQLError] = []
    try:
        nesting = max((_PerFragment(document, _nesting)(o.selection_set) for o in operations), default=0)
        if nesting > limits.max_fragment_nesting:
            return [too_complex(f"Fragments are nested {nesting} deep, at most {limits.max_fragment_nesting}.")]
        depth, aliases = _PerFragment(document, _depth), _PerFragment(document, _aliases)
        for operation in operations:
            if depth(operation.selection_set) > limits.max_depth:
                name = operation.name.value if operation.name else "anonymous"
                errors.append(
                    too_complex(f"'{name}' exceeds maximum operation depth of {limits.max_depth}", [operation])
                )
        total_aliases = min(sum(aliases(o.selection_set) for o in operations), SATURATED)
    except RecursionError:  # nesting deeper than Python's stack: far past any depth limit
        return [too_complex(f"The document exceeds maximum operation depth of {limits.max_depth}")]
    if total_aliases > limits.max_aliases:
        shown = f"more than {SATURATED}" if total_aliases >= SATURATED else str(total_aliases)
        errors.append(too_complex(f"{shown} aliases found. Allowed: {limits.max_aliases}"))
    return errors


# The scope a partner key needs for each root field. A field missing here is refused to partners:
# a new field is closed until someone decides who may use it (a test checks every field is listed).
ROOT_SCOPES: dict[str, Scope | None] = {
    # Query
    "needs": Scope.NEEDS_READ, "node": Scope.NEEDS_READ, "nodes": Scope.NEEDS_READ,
    "suggestedNeeds": Scope.NEEDS_READ, "suggestedOffers": Scope.NEEDS_READ, "myNeeds": Scope.NEEDS_READ,
    "myPledges": Scope.NEEDS_READ, "myProposals": Scope.NEEDS_READ, "offers": Scope.OFFERS_READ, "myOffers": Scope.OFFERS_READ,
    "me": Scope.ACCOUNTS, "areas": Scope.NEEDS_READ, "messages": Scope.MESSAGES, "verificationQueue": Scope.VERIFY, "areaStats": Scope.VERIFY,
    "myAvailability": Scope.OFFERS_READ, "myHelpAsks": Scope.OFFERS_READ,
    # Mutation
    "signUp": Scope.ACCOUNTS, "signIn": Scope.ACCOUNTS,
    # Refused in the payload under any key (FORBIDDEN): a person's sessions are their own.
    "signOut": Scope.ACCOUNTS, "signOutEverywhere": Scope.ACCOUNTS, "changePassword": Scope.ACCOUNTS,
    "createNeed": Scope.NEEDS_WRITE, "updateNeed": Scope.NEEDS_WRITE, "cancelNeed": Scope.NEEDS_WRITE,
    "renewNeed": Scope.NEEDS_WRITE, "claimNeed": Scope.NEEDS_WRITE, "reportNeed": Scope.NEEDS_WRITE,
    "issueClaimCode": Scope.NEEDS_WRITE,
    "requestHelpNow": Scope.NEEDS_WRITE,
    "createOffer": Scope.OFFERS_WRITE, "updateOffer": Scope.OFFERS_WRITE, "withdrawOffer": Scope.OFFERS_WRITE,
    "setAvailability": Scope.OFFERS_WRITE, "acceptHelpRequest": Scope.OFFERS_WRITE,
    "pledge": Scope.PLEDGES_WRITE, "cancelPledge": Scope.PLEDGES_WRITE, "confirmDelivery": Scope.PLEDGES_WRITE,
    "markDelivered": Scope.PLEDGES_WRITE,
    "acceptPledge": Scope.PLEDGES_WRITE, "acceptProposal": Scope.PLEDGES_WRITE, "declineProposal": Scope.PLEDGES_WRITE,
    "sendMessage": Scope.MESSAGES, "verifyNeed": Scope.VERIFY, "rejectNeed": Scope.VERIFY,
    "createWebhook": Scope.WEBHOOKS, "deleteWebhook": Scope.WEBHOOKS, "webhooks": Scope.WEBHOOKS,
    "webhookDeliveries": Scope.WEBHOOKS, "importNeeds": Scope.IMPORT,
    "myNotifications": Scope.ACCOUNTS, "myNotificationSettings": Scope.ACCOUNTS, "pushPublicKey": Scope.ACCOUNTS,
    "setNotificationSettings": Scope.ACCOUNTS, "subscribePush": Scope.ACCOUNTS, "unsubscribePush": Scope.ACCOUNTS,
    "grantRole": None, "revokeRole": None, "createCollectionPoint": None,
    "updateCollectionPoint": None,  # admin work is never done through a partner app
    "collectionPoints": Scope.OFFERS_READ, "myRelays": Scope.NEEDS_READ,
    # Subscription
    "needsNearby": Scope.NEEDS_READ, "offersNearby": Scope.OFFERS_READ, "myActivity": Scope.ACCOUNTS,
}  # fmt: skip


def _fragments(document: Any) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def root_fields(document: Any, operation_name: str | None) -> set[str]:
    """Names of the root fields an operation selects (through fragments too; each fragment looked at once)."""
    operation = _operation(document, operation_name)
    fragments = _fragments(document)
    names: set[str] = set()
    seen: set[str] = set()
    stack = [operation.selection_set] if operation is not None else []
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)
    return names


def missing_scopes(partner_scopes: frozenset[str], fields: set[str]) -> list[str]:
    """Root fields this partner may not use ("__typename" and introspection are always allowed)."""
    missing = []
    for name in sorted(fields):
        if name.startswith("__"):
            continue
        scope = ROOT_SCOPES.get(name)
        if scope is None or scope.value not in partner_scopes:
            missing.append(f"{name} ({scope.value if scope else 'not available to partner apps'})")
    return missing


def scope_refusal(missing: list[str]) -> str:
    """One wording for a field outside the key's scopes, over HTTP and on a socket, queries and subscriptions."""
    return msg("This API key may not use: {fields}.", fields=", ".join(missing))


def subscription_scope_refusal(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, partner: Any
) -> GraphQLError | None:
    """The error a partner key's websocket subscription to a root field outside its scopes is answered
    with (in a `next` message, then `complete`), else None. Checked with every other operation's
    scopes in OperationChecks.on_execute, before the subscription's stream starts; a subscription
    with variables that do not coerce is left to graphql-core, which reports them."""
    operation = _operation(document, operation_name)
    if partner is None or operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    if not isinstance(variables, dict | None):
        return None
    if OperationChecks.schema is not None and isinstance(
        get_variable_values(OperationChecks.schema, operation.variable_definitions or (), variables or {}), list
    ):
        return None
    for name in sorted(root_fields(document, operation_name)):
        scope = ROOT_SCOPES.get(name)
        if scope is not None and not partner.allows(scope):
            message = translate(scope_refusal([f"{name} ({scope.value})"]), "FORBIDDEN")
            return GraphQLError(message, extensions={"code": "FORBIDDEN", "field": name})
    return None


# Lists whose size no argument states: their realistic size (areas returns up to MAX_OUTLINES).
LIST_SIZES: dict[tuple[str, str], int] = {
    ("Query", "areas"): MAX_OUTLINES,
    ("Query", "collectionPoints"): collection_points.NEAR_LIMIT,
    ("Query", "myRelays"): collection_points.CARRIED_LIMIT,
}
# Fields whose answer is large for one field: a ward's simplified outline is ~800 bytes of GeoJSON,
# ten ordinary fields' worth (areas x30 was 7.1 MB and 2.5 s of server time at a cost of ~150).
# Fields whose work is large whatever they return: a suggestions call ranks every candidate in its
# radius (with 3,000 demo needs, 24 aliases of suggestedNeeds passed at a cost of 4,824 and took
# 473 ms of server CPU; one suggestedNeeds call takes 50-80 ms, 8 suggestedOffers calls 57-73 ms, each
# sent as a text the server had not seen; tests/guards/test_costliest_documents.py). With these
# weights a document holds one suggestedNeeds call and at most 6 suggestedOffers calls.
# A password hash (argon2, 0.3-0.5 s of a core in a pool of at most 4 threads): one per document, or
# 24 aliased signUp/signIn calls in one request kept the pool busy for everyone's sign-in.
PASSWORD_HASH_WEIGHT = 2600
FIELD_WEIGHTS: dict[tuple[str, str], int] = {
    ("Mutation", "signUp"): PASSWORD_HASH_WEIGHT,
    ("Mutation", "signIn"): PASSWORD_HASH_WEIGHT,
    ("Mutation", "changePassword"): PASSWORD_HASH_WEIGHT,
    ("AreaOutline", "geojson"): 10,
    ("Query", "suggestedNeeds"): 2500,
    ("Query", "suggestedOffers"): 800,
}
# A field with a resolver of its own (not a plain attribute read) runs through graphql-core's and
# strawberry's per-field machinery, usually a DataLoader too: ~20-40 us of server CPU per object, where
# a plain field costs 1-2 us (schema/fast/plain_fields.py). A root field is a call that reads the
# database: one of 15 aliased `needs(first: 1)` pages took ~4 ms of server CPU, sent as a text the
# server had not seen (tests/guards/test_costliest_documents.py).
RESOLVER_WEIGHT = 3
ROOT_CALL_WEIGHT = 200
_ROOT_TYPES = {"Query", "Mutation", "Subscription"}


def _field_weight(parent: GraphQLNamedType, name: str, definition: GraphQLField | None) -> int:
    weight = FIELD_WEIGHTS.get((parent.name, name))
    if weight is not None:
        return weight
    if definition is None or name == "__typename" or getattr(definition.resolve, "_is_default", False):
        return 0
    return ROOT_CALL_WEIGHT if parent.name in _ROOT_TYPES else RESOLVER_WEIGHT


# What looking up one id of `node`/`nodes` costs beyond its fields, by the id's type: needs and
# offers come in one statement for all ids, pledges, messages and help requests in one statement per
# kind with the rule of who may see them (each opened a session of its own before: 17 aliases of 100
# pledge ids took 1.7 s); an account the viewer may see is a query each (~0.15 ms of server CPU).
# Pledges, messages and help requests still weigh 400: at 100, the mixed document (ids of every type
# in turn) took 82 ms, at 25 161 ms (tests/guards/test_costliest_documents.py). Ids that do not
# decode weigh nothing: execution refuses them.
NODE_WEIGHTS: dict[str, int] = {"Account": 25, "Pledge": 400, "Message": 400, "HelpRequest": 400}
_NODE_FIELDS = {("Query", "node"): "id", ("Query", "nodes"): "ids"}


def _node_weight(ids: Any) -> int:
    total = 0
    for global_id in ids if isinstance(ids, list) else [ids]:
        try:
            type_name, _ = from_global_id(global_id) if isinstance(global_id, str) else ("", 0)
        except Exception:  # malformed: refused when it runs
            continue
        total += NODE_WEIGHTS.get(type_name, 0)
    return total


def _needs_searches(args: dict[str, Any]) -> int:
    """How many index searches a `needs` page runs (resolvers/needs.py): most urgent first and
    "urgent only" search each urgency level on its own; 15 aliased pages of `needs(orderBy: URGENCY)`
    ran 60 searches at the weight of 15."""
    try:
        return searches_per_page(
            order_by=NeedOrder(args.get("orderBy") or NeedOrder.DISTANCE),
            urgencies=args.get("urgencies"), statuses=args.get("statuses"),
        )  # fmt: skip
    except (TypeError, ValueError):  # bad arguments: execution refuses them
        return 1


# The arguments a document's cost depends on (schema/fast/compiled.py remembers a verdict by their values).
COST_ARGUMENTS = frozenset({"first", "ids", "id", "orderBy", "urgencies", "statuses"})


def query_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
) -> int:
    """Every field counts once per object it may be selected on: a field under `needs(first: 100)`
    counts 100 times, under that a `nodes(ids: [...])` list multiplies again. The arguments are
    the coerced ones, as execution will see them: a `first` or `ids` given as a variable's default
    value or left to the argument's default counts as if sent."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    if not isinstance(variables, dict):
        return 0  # not an object: execution refuses it
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return 0  # bad variables: execution refuses them before running anything
    fragments = _fragments(document)

    def size(parent: GraphQLNamedType, field: FieldNode, definition: GraphQLField) -> tuple[int, int]:
        """How many objects the field may answer, and what looking them up costs beyond their fields."""
        try:
            args = get_argument_values(definition, field, coerced)
        except GraphQLError:
            return 1, 0  # bad arguments: execution refuses them
        node_argument = _NODE_FIELDS.get((parent.name, field.name.value))
        lookups = _node_weight(args.get(node_argument)) if node_argument else 0
        if (parent.name, field.name.value) == ("Query", "needs"):
            lookups += ROOT_CALL_WEIGHT * (_needs_searches(args) - 1)
        first, ids = args.get("first"), args.get("ids")
        if isinstance(first, int):
            return max(first, 1), lookups
        if isinstance(ids, list):
            return max(len(ids), 1), lookups
        return LIST_SIZES.get((parent.name, field.name.value), 1), lookups

    def cost(parent: GraphQLNamedType | None, selection_set: SelectionSetNode, memo: dict[str, int]) -> int:
        # A selection set's cost at multiplier 1; under a list of n it costs n times that, so
        # each fragment's cost is computed once and multiplied wherever it is spread.
        fields = getattr(parent, "fields", None) or {}
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                definition = fields.get(selection.name.value)
                total += 1 + (_field_weight(parent, selection.name.value, definition) if parent else 0)
                if selection.selection_set is not None:
                    child = get_named_type(definition.type) if definition is not None else None
                    n, lookups = size(parent, selection, definition) if definition is not None and parent else (1, 0)
                    total += lookups + n * cost(child, selection.selection_set, memo)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = schema.get_type(condition.name.value) if condition is not None else parent
                total += cost(inner, selection.selection_set, memo)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in memo:
                    fragment = fragments.get(name)
                    memo[name] = 0  # in progress: a cycle counts nothing (validation reports it)
                    if fragment is not None:
                        memo[name] = cost(
                            schema.get_type(fragment.type_condition.name.value), fragment.selection_set, memo
                        )
                total += memo[name]
        return min(total, SATURATED)

    root = schema.get_root_type(operation.operation)
    return cost(root, operation.selection_set, {})


def refusal(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class OperationChecks(SchemaExtension):
    """Query cost and partner scopes: checked with the variables, before anything runs."""

    max_cost = 5000
    schema: GraphQLSchema | None = None  # set once per schema (build_schema)

    @classmethod
    def refusal_for(
        cls, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, partner: Any
    ) -> ExecutionResult | None:
        """The refusal for an operation over cost or outside the partner's scopes, else None
        (also used by the websocket path that bypasses strawberry's pipeline, schema/fast/live_socket.py)."""
        try:
            missing = missing_scopes(partner.scopes, root_fields(document, operation_name)) if partner else []
            assert cls.schema is not None
            cost = query_cost(cls.schema, document, operation_name, variables or {})
        except Exception:  # a bug here must neither leak its message nor let the operation through
            log.exception("checking an operation failed")
            return refusal("Unexpected error.", "INTERNAL")
        if missing:
            return refusal(scope_refusal(missing), "FORBIDDEN")
        if cost > cls.max_cost:
            return refusal(
                f"This query may return too much (cost {cost}, at most {cls.max_cost}): ask for smaller pages.",
                "QUERY_TOO_COSTLY",
            )
        return None

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and ctx.result is None:
            if isinstance(getattr(ctx.context, "request", None), WebSocket):
                # A subscription does not take ctx.result: its refusal is raised, and answered as one
                # (websockets only: over HTTP a subscription document gets the refusal below).
                refused_subscription = subscription_scope_refusal(
                    document, ctx.operation_name, ctx.variables, getattr(ctx.context, "partner", None)
                )
                if refused_subscription is not None:
                    raise refused_subscription
            refused = self.refusal_for(
                document, ctx.operation_name, ctx.variables, getattr(ctx.context, "partner", None)
            )
            if refused is not None:
                if _is_socket_subscription(ctx, document):
                    # strawberry does not take ctx.result for a subscription: without the raise, a
                    # costly selection would run for every event as long as the socket lives.
                    assert refused.errors
                    raise refused.errors[0]
                ctx.result = refused
        yield


def _is_socket_subscription(ctx: Any, document: DocumentNode) -> bool:
    operation = _operation(document, ctx.operation_name)
    return (
        isinstance(getattr(ctx.context, "request", None), WebSocket)
        and operation is not None
        and operation.operation is OperationType.SUBSCRIPTION
    )


def operation_checks(limits: Limits) -> type[OperationChecks]:
    """OperationChecks bound to these limits (strawberry builds one extension instance per request)."""
    return type("BoundOperationChecks", (OperationChecks,), {"max_cost": limits.max_cost})
