"""Limits on what one GraphQL document may ask: depth, aliases, tokens, cost, introspection, partner scopes.

Depth, aliases and introspection are validation rules (also used by the lean websocket
path, schema/live_socket.py); tokens are limited while parsing; cost and partner scopes
need the variables, so they are checked just before execution.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from aidmap.models import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    dev: bool = False
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 5000

    def validation_rules(self) -> list[type[ASTValidationRule]]:
        rules: list[type[ASTValidationRule]] = [
            max_depth_rule(self.max_depth, None, None),
            max_aliases_rule(self.max_aliases),
        ]
        if not self.dev:
            rules.append(NoSchemaIntrospectionCustomRule)
        return rules


# The scope a partner key needs for each root field. A field missing here is refused to partners:
# a new field is closed until someone decides who may use it (a test checks every field is listed).
ROOT_SCOPES: dict[str, Scope | None] = {
    # Query
    "needs": Scope.NEEDS_READ, "node": Scope.NEEDS_READ, "nodes": Scope.NEEDS_READ,
    "suggestedNeeds": Scope.NEEDS_READ, "suggestedOffers": Scope.NEEDS_READ, "myNeeds": Scope.NEEDS_READ,
    "myPledges": Scope.NEEDS_READ, "offers": Scope.OFFERS_READ, "myOffers": Scope.OFFERS_READ,
    "me": Scope.ACCOUNTS, "areas": Scope.NEEDS_READ, "messages": Scope.MESSAGES, "verificationQueue": Scope.VERIFY, "areaStats": Scope.VERIFY,
    # Mutation
    "signUp": Scope.ACCOUNTS, "signIn": Scope.ACCOUNTS,
    "createNeed": Scope.NEEDS_WRITE, "updateNeed": Scope.NEEDS_WRITE, "cancelNeed": Scope.NEEDS_WRITE,
    "renewNeed": Scope.NEEDS_WRITE, "claimNeed": Scope.NEEDS_WRITE, "reportNeed": Scope.NEEDS_WRITE,
    "issueClaimCode": Scope.NEEDS_WRITE,
    "requestHelpNow": Scope.NEEDS_WRITE,
    "createOffer": Scope.OFFERS_WRITE, "updateOffer": Scope.OFFERS_WRITE, "withdrawOffer": Scope.OFFERS_WRITE,
    "setAvailability": Scope.OFFERS_WRITE, "acceptHelpRequest": Scope.OFFERS_WRITE,
    "pledge": Scope.PLEDGES_WRITE, "cancelPledge": Scope.PLEDGES_WRITE, "confirmDelivery": Scope.PLEDGES_WRITE,
    "acceptPledge": Scope.PLEDGES_WRITE,
    "sendMessage": Scope.MESSAGES, "verifyNeed": Scope.VERIFY, "rejectNeed": Scope.VERIFY,
    "createWebhook": Scope.WEBHOOKS, "deleteWebhook": Scope.WEBHOOKS, "webhooks": Scope.WEBHOOKS,
    "webhookDeliveries": Scope.WEBHOOKS, "importNeeds": Scope.IMPORT,
    "grantRole": None, "revokeRole": None,  # admin work is never done through a partner app
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
    """Names of the root fields an operation selects (through fragments too)."""
    operation = _operation(document, operation_name)
    fragments = _fragments(document)
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, seen | {selection.name.value})

    if operation is not None:
        walk(operation.selection_set, frozenset())
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


def page_defaults(schema: GraphQLSchema) -> dict[str, int]:
    """Field name -> default page size, for every field taking `first` (cost counts pages at their default)."""
    defaults: dict[str, int] = {}
    for graphql_type in schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__"):
            for name, field in graphql_type.fields.items():
                first = field.args.get("first")
                if first is not None:
                    default = first.default_value
                    defaults[name] = default if isinstance(default, int) else 100
    return defaults


def query_cost(document: Any, operation_name: str | None, variables: dict[str, Any], pages: dict[str, int]) -> int:
    """Every field counts once per object it may be selected on: a field under `needs(first: 100)`
    counts 100 times, under that a `nodes(ids: [...])` list multiplies again."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    fragments = _fragments(document)

    def size(field: FieldNode) -> int:
        for argument in field.arguments or ():
            value = argument.value
            if isinstance(value, VariableNode):
                value_or_var: Any = variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                value_or_var = int(value.value)
            elif isinstance(value, ListValueNode):
                value_or_var = value.values
            else:
                continue
            if argument.name.value == "first" and isinstance(value_or_var, int):
                return max(value_or_var, 1)
            if argument.name.value == "ids" and isinstance(value_or_var, list | tuple):
                return max(len(value_or_var), 1)
        return pages.get(field.name.value, 1)

    def cost(selection_set: SelectionSetNode, multiplier: int, seen: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += multiplier
                if selection.selection_set is not None:
                    total += cost(selection.selection_set, multiplier * size(selection), seen)
            elif isinstance(selection, InlineFragmentNode):
                total += cost(selection.selection_set, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    total += cost(fragment.selection_set, multiplier, seen | {selection.name.value})
        return total

    return cost(operation.selection_set, 1, frozenset())


def refusal(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class OperationChecks(SchemaExtension):
    """Query cost and partner scopes: checked with the variables, before anything runs."""

    max_cost = 5000
    pages: dict[str, int] = {}  # noqa: RUF012 - set once per schema (limits_extension)

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and ctx.result is None:
            partner = getattr(ctx.context, "partner", None)
            try:
                missing = missing_scopes(partner.scopes, root_fields(document, ctx.operation_name)) if partner else []
                cost = query_cost(document, ctx.operation_name, ctx.variables or {}, self.pages)
            except Exception:  # a bug here must neither leak its message nor let the operation through
                log.exception("checking an operation failed")
                ctx.result = refusal("Unexpected error.", "INTERNAL")
                yield
                return
            if missing:
                ctx.result = refusal(f"This API key may not use: {', '.join(missing)}.", "FORBIDDEN")
            elif cost > self.max_cost:
                ctx.result = refusal(
                    f"This query may return too much (cost {cost}, at most {self.max_cost}): ask for smaller pages.",
                    "QUERY_TOO_COSTLY",
                )
        yield


def operation_checks(limits: Limits) -> type[OperationChecks]:
    """OperationChecks bound to these limits (strawberry builds one extension instance per request)."""
    return type("BoundOperationChecks", (OperationChecks,), {"max_cost": limits.max_cost})
