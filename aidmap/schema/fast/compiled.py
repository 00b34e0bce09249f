"""Compiled documents: repeated plain searches without the per-request GraphQL machinery.

Partner apps and the page send the same few documents again and again, the nearby list above
all. For each document text and operation name this keeps, once: the parsed, limited and
validated document (`checked_document`: tokens, spreads, depth, aliases, graphql-core's rules),
its operation, and, for each combination of @include/@skip values, a plan of what it selects.
A request then only coerces its variables, passes the cost and scope checks of schema/limits.py,
runs the search for exactly the columns the plan reads, and writes the response from the rows:
no field resolvers, no Need views, no distance or cursor that nobody selected.

What is compiled: query operations whose root fields are `needs`, `offers` or `__typename`,
selecting connection, edge, page-info and node fields that are plain (a column, the global id,
`isMine`, the public cell, and the need's `exactLocation` / `contactPhone`, decided by the one
projection, `project_need`, and logged like the slow path logs them). Anything else (another
root field, a field with its own queries such as `ward` or `donor`, fragments on interfaces,
@defer) is not compiled, and any request that fails in any way (bad variables, a refusal, a bad
argument, a value that does not serialize, a database error) runs through strawberry's ordinary
pipeline, which gives the proper answer: a search only reads, and nothing is logged until the
compiled answer is complete, so running it again is harmless. tests/schema/test_compiled.py
compares both paths' answers and logged reads.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, get_argument_values, get_variable_values
from graphql.language import Visitor
from strawberry.types import ExecutionResult

from aidmap import models
from aidmap.bounded import BoundedDict
from aidmap.db.cursors import distance_cursor
from aidmap.geo.privacy import round_distance, snap_to_cell
from aidmap.models.need_fields import TYPE_FIELDS
from aidmap.models.projection import PROJECTION_COLUMNS, project_need, reads_to_log
from aidmap.observability import operation_label
from aidmap.problems import UserInputError
from aidmap.resolvers import needs, offers
from aidmap.schema import checked_document, database_unavailable
from aidmap.schema.documents import CACHED_MAX_CHARS
from aidmap.schema.ids import to_global_id
from aidmap.schema.limits import COST_ARGUMENTS
from aidmap.schema.types import pledged_by_viewer

log = logging.getLogger(__name__)

GIVE_UP: Any = object()  # a value that cannot be written plainly: the ordinary pipeline answers
KEEP_DOCUMENTS = 512
KEEP_PLANS = 16  # @include/@skip combinations kept per operation

# What a node field reads, by GraphQL field name: ("column", name), ("id",), ("mine", column),
# ("cell",), ("exact",) or ("phone",). A field not listed (one with its own resolver, or new)
# is not compiled. A need's column fields are the Need type's plain fields (models/need_fields.py
# TYPE_FIELDS), read once here; the others are how the projection shows the point and the phone.
NEED_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",), "isMine": ("mine", "owner_id"), "approximateLocation": ("cell",),
    "exactLocation": ("exact",), "contactPhone": ("phone",),
    **{f.graphql: ("column", f.name) for f in TYPE_FIELDS},
}  # fmt: skip
OFFER_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",), "isMine": ("mine", "donor_id"), "approximateLocation": ("cell",), "exactLocation": ("exact",),
    **{name: ("column", column) for name, column in (
        ("category", "category"), ("title", "title"), ("details", "details"), ("quantity", "quantity"),
        ("quantityPledged", "quantity_pledged"), ("unit", "unit"), ("radiusMeters", "radius_meters"),
        ("availableUntil", "available_until"), ("status", "status"), ("createdAt", "created_at"),
    )},
}  # fmt: skip
_POINT = ("lat", "lon")
# Everything models.projection.project_need (and schema.types.pledged_by_viewer, the id) reads of a need.
_PRIVACY_COLUMNS = ("id", *PROJECTION_COLUMNS)
_SQL = {"lat": "ST_Y(geometry(location)) AS lat", "lon": "ST_X(geometry(location)) AS lon"}

# (row, projection or None, request state) -> a JSON value, or GIVE_UP
Getter = Callable[[Any, Any, "_Request"], Any]
Entries = tuple[tuple[str, Getter], ...]


class NotCompiled(Exception):
    """This selection is not plain: the document goes the ordinary way."""


@dataclass
class _Request:
    who: Any  # models.need.Principal
    mine: int | None  # the viewer's account id
    reads: list[tuple[int, models.PrivateField]]
    cursor: Callable[[Any], str] = dataclass_field(
        default=lambda row: distance_cursor(row.id)
    )  # the page's cursor rule


def _leaf(type_: GraphQLOutputType) -> Callable[[Any], Any]:
    """Serialize a value as the schema's scalar or enum does; GIVE_UP where graphql-core would report an error."""
    nullable = not isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not is_leaf_type(inner):
        raise NotCompiled(str(inner))
    if isinstance(inner, GraphQLEnumType):
        # Rows hold the enum's value; the view holds its member, which the enum type serializes.
        members = getattr(inner, "wrapped_cls", None)
        if members is None:
            raise NotCompiled(inner.name)
        table = {member.value: inner.serialize(member) for member in members}

        if nullable:
            table[None] = None

        def enum(value: Any) -> Any:
            return table.get(value, GIVE_UP)

        enum.table = table  # type: ignore[attr-defined]
        return enum
    serialize = inner.serialize  # type: ignore[union-attr]
    # What graphql-core's serializers return unchanged, checked as they check it (the common case,
    # without their isinstance ladder); anything else goes through the serializer itself.
    built_in = _BUILT_IN_TYPES.get(inner.name)
    plain = _PLAIN.get(inner.name) if built_in is not None and serialize is built_in.serialize else None

    def scalar(value: Any) -> Any:
        if value is None:
            return None if nullable else GIVE_UP
        if plain is not None and plain(value):
            return value
        try:
            out = serialize(value)
        except Exception:
            return GIVE_UP
        return GIVE_UP if out is None or out is Undefined else out

    scalar.plain_str = plain is _plain_string  # type: ignore[attr-defined]
    return scalar


_BUILT_IN_TYPES = {t.name: t for t in (GraphQLString, GraphQLFloat, GraphQLInt, GraphQLBoolean)}


def _plain_string(value: Any) -> bool:
    return type(value) is str


def _plain_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)


def _plain_int(value: Any) -> bool:
    return type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT


def _plain_bool(value: Any) -> bool:
    return type(value) is bool


# A value that its built-in scalar type writes (serialize) and reads (input coercion) unchanged.
_PLAIN: dict[str, Callable[[Any], bool]] = {
    "String": _plain_string, "Float": _plain_float, "Int": _plain_int, "Boolean": _plain_bool,
}  # fmt: skip


def _render(entries: Entries, row: Any, projection: Any, request: _Request) -> Any:
    out = {}
    for name, get in entries:
        value = get(row, projection, request)
        if value is GIVE_UP:
            return GIVE_UP
        out[name] = value
    return out


@dataclass(frozen=True)
class _Node:
    entries: Entries
    columns: frozenset[str]
    private: bool  # reads the projection: exactLocation / contactPhone of a need


class _Variables:
    """An operation's coerced variables, as graphql-core's get_variable_values gives them.

    Where every variable is a non-null Float, Int, String or Boolean without a default (the nearby
    search's `$lat: Float!, $lon: Float!`), a value of exactly that type, finite and in range, is
    what coercion returns unchanged: those are taken as they are (get_variable_values was 3% of a
    search). Anything else, a value to convert or to refuse above all, goes through graphql-core.
    tests/schema/test_compiled_arguments.py compares the two."""

    def __init__(self, gql: Any, definitions: Any) -> None:
        self.gql = gql
        self.definitions = definitions
        plain: list[tuple[str, Any, Callable[[Any], bool]]] = []
        for definition in definitions:
            signature = get_variable_signature(gql, definition)
            if isinstance(signature, GraphQLError) or definition.default_value is not None:
                break
            type_ = signature.type
            inner = type_.of_type if isinstance(type_, GraphQLNonNull) else None
            check = _PLAIN.get(inner.name) if isinstance(inner, GraphQLScalarType) else None
            if check is None or inner is not _BUILT_IN_TYPES[inner.name]:
                break  # a list, an input object, an enum, a nullable or custom scalar: graphql-core's way
            plain.append((signature.name, signature, check))
        self.plain: tuple[tuple[str, Any, Callable[[Any], bool]], ...] | None = (
            tuple(plain) if len(plain) == len(definitions) else None
        )

    def of(self, inputs: dict[str, Any]) -> Any:
        """VariableValues, or the list of errors get_variable_values gives."""
        plain = self.plain
        if plain is not None:
            sources: dict[str, Any] = {}
            coerced: dict[str, Any] = {}
            for name, signature, check in plain:
                value = inputs.get(name)
                if not check(value):
                    break
                sources[name] = VariableValueSource(signature, value)
                coerced[name] = value
            else:
                return VariableValues(sources, coerced)
        return get_variable_values(self.gql, self.definitions, inputs)


class _Arguments:
    """A field's coerced arguments, with the request's variables put in their places.

    graphql-core's get_argument_values walks the whole argument literal on every request (4% of a
    search's CPU). Where a variable stands for an argument or a field of an input object literal,
    coercion is that variable's coerced value unchanged (coerce_input_literal): so the arguments are
    coerced once, from the first request that gives every variable a value, and each later request
    copies them and puts its variables' values at their paths. Anything else (a variable inside a
    list, a @oneOf or converted input object, a variable missing or null) is coerced the ordinary
    way. tests/schema/test_compiled.py compares the two for generated documents and variables."""

    def __init__(self, field: GraphQLField, node: FieldNode) -> None:
        self.field = field
        self.node = node
        self.paths = _variable_paths(field, node)  # None: always the ordinary way
        self.base: dict[str, Any] | None = None
        # The input objects on the paths, outermost first: each request copies these.
        self.containers = sorted({path[:i] for path, _ in self.paths or () for i in range(1, len(path))}, key=len)

    def of(self, coerced: Any) -> dict[str, Any]:
        paths = self.paths
        if paths is None:
            return get_argument_values(self.field, self.node, coerced)
        values = coerced.coerced
        for _, name in paths:
            if values.get(name) is None:
                return get_argument_values(self.field, self.node, coerced)
        base = self.base
        if base is None:
            args = get_argument_values(self.field, self.node, coerced)
            if not all(type(_at(args, container)) is dict for container in self.containers):
                self.paths = None  # an input object converted to something else
                return args
            self.base = args
            return args
        args = dict(base)
        for container in self.containers:
            parent = _at(args, container[:-1])
            parent[container[-1]] = dict(parent[container[-1]])
        for path, name in paths:
            _at(args, path[:-1])[path[-1]] = values[name]
        return args


def _at(args: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        args = args[key]
    return args


def _variable_paths(field: GraphQLField, node: FieldNode) -> tuple[tuple[tuple[str, ...], str], ...] | None:
    """(path in the coerced arguments, variable name) for each variable of the field's arguments, or
    None where a variable stands somewhere its coerced value is not simply put (inside a list)."""
    paths: list[tuple[tuple[str, ...], str]] = []

    def walk(value: Any, type_: Any, path: tuple[str, ...]) -> bool:
        if isinstance(value, VariableNode):
            paths.append((path, value.name.value))
            return True
        if isinstance(value, ObjectValueNode):
            named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
            if not isinstance(named, GraphQLInputObjectType) or named.is_one_of:
                return False
            for item in value.fields:
                item_def = named.fields.get(item.name.value)
                if item_def is None or not walk(
                    item.value, item_def.type, (*path, item_def.out_name or item.name.value)
                ):
                    return False
            return True
        return not _has_variables([value])

    for argument in node.arguments or ():
        arg_def = field.args.get(argument.name.value)
        if arg_def is None or not walk(argument.value, arg_def.type, (arg_def.out_name or argument.name.value,)):
            return None
    return tuple(paths)


@dataclass(frozen=True)
class SearchField:
    """One root `needs` or `offers` field: its arguments, the columns it reads, how it writes the page."""

    kind: str
    field: GraphQLField
    node: FieldNode
    static_args: dict[str, Any] | None  # coerced once when the arguments hold no variables
    entries: Entries  # of the connection, applied to the page
    columns: str
    private: bool
    arguments: _Arguments  # when static_args is None

    async def run(self, ctx: Any, coerced: Any, request: _Request) -> Any:
        args = self.static_args if self.static_args is not None else self.arguments.of(coerced)
        near, categories = args["near"], args.get("categories")
        common = {
            "reader": ctx.hot_reader, "lat": near["lat"], "lon": near["lon"], "radius_m": args["radiusMeters"],
            "categories": [models.NeedCategory(c) for c in categories] if categories else None,
            "first": args["first"], "after": args.get("after"), "columns": self.columns,
        }  # fmt: skip
        if self.kind == "needs":
            statuses = args.get("statuses")
            statuses = [models.NeedStatus(s) for s in statuses] if statuses else None
            urgencies = args.get("urgencies")
            page = await needs.search_rows(
                **common, statuses=statuses, urgencies=[models.Urgency(u) for u in urgencies] if urgencies else None,
                order_by=models.NeedOrder(args.get("orderBy", models.NeedOrder.DISTANCE)),
            )  # fmt: skip
        else:
            page = await offers.search_rows(**common)
        projections: Sequence[Any] = ()
        if self.private:
            pledged = await pledged_by_viewer(ctx, page.rows)
            projections = [project_need(request.who, r, active_donor=r.id in pledged) for r in page.rows]
        request.cursor = page.cursor
        return _render(self.entries, page, projections, request)


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.other = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value not in ("include", "skip"):
            self.other = True
        for argument in node.arguments:
            if isinstance(argument.value, VariableNode) and argument.value.name.value not in self.names:
                self.names.append(argument.value.name.value)


class _CostVariables(Visitor):
    """The variables a document's cost can depend on: those inside the arguments schema/limits.py
    query_cost reads (COST_ARGUMENTS: page sizes, ids, the order and filters of `needs`)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if node.name.value in COST_ARGUMENTS:
            stack = [node.value]
            while stack:
                value = stack.pop()
                if isinstance(value, VariableNode):
                    self.names.add(value.name.value)
                elif isinstance(value, ListValueNode):
                    stack.extend(value.values)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a variable's coerced value (lists as tuples); TypeError if there is none."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    hash(value)
    return value


class CompiledOperation:
    def __init__(
        self, compiler: CompiledDocuments, document: Any, operation: OperationDefinitionNode, name: str | None
    ):
        self.compiler = compiler
        self.document = document
        self.operation = operation
        self.operation_name = name
        self.fragments = {
            d.name.value: FragmentDetails(d) for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        finder = _DirectiveVariables()
        for node in (operation, *(f.definition for f in self.fragments.values())):
            visit(node, finder)
        if finder.other:
            raise NotCompiled("a directive other than @include/@skip")
        self.directive_variables = tuple(finder.names)
        costs = _CostVariables()
        for node in (operation, *(f.definition for f in self.fragments.values())):
            visit(node, costs)
        self.cost_variables = tuple(sorted(costs.names))
        # The cost and scope checks' verdict (True: passed) by partner scopes and the values of
        # cost_variables: with valid arguments the cost is a function of those values alone. A pass
        # is remembered only from a request that then ran (its arguments were valid); a request with
        # invalid ones costs at most as much, and fails on its own.
        self.checked: BoundedDict[tuple[Any, ...], bool] = BoundedDict(KEEP_PLANS)
        self.label = operation_label(SimpleNamespace(graphql_document=document, operation_name=name))
        self.plans: BoundedDict[tuple[Any, ...], tuple[tuple[str, Any], ...] | None] = BoundedDict(KEEP_PLANS)
        self.variables = _Variables(compiler.gql, operation.variable_definitions or ())
        self._metrics: Any = None
        self._children: tuple[Any, Any] = (None, None)

    def metric_children(self, metrics: Any) -> tuple[Any, Any]:
        """This operation's "ok" request counter and latency histogram in `metrics`, looked up once
        (prometheus_client's labels() hashes and locks on every call)."""
        if self._metrics is not metrics:
            self._children = (metrics.requests.labels(self.label, "ok"), metrics.latency.labels(self.label))
            self._metrics = metrics
        return self._children

    def check_key(self, coerced: Any, partner: Any) -> tuple[Any, ...] | None:
        """The key of `checked` for these variables and partner; None: not remembered."""
        values = coerced.coerced
        try:
            frozen = tuple(_frozen(values.get(name)) for name in self.cost_variables)
        except TypeError:
            return None
        return (partner.scopes if partner is not None else None, *frozen)

    def plan_for(self, coerced: Any) -> tuple[tuple[str, Any], ...] | None:
        """The root fields for these @include/@skip values: (response name, type name or SearchField)."""
        values = coerced.coerced
        key = tuple(values.get(name) for name in self.directive_variables)
        if any(not isinstance(v, bool) for v in key):
            return None  # null or missing: graphql-core reports it
        if key in self.plans:
            return self.plans[key]
        try:
            plan = self.compiler.root_plan(self, coerced)
        except NotCompiled as why:
            log.debug("not compiled: %s", why)
            plan = None
        except Exception:  # a bug here must not fail the request: the ordinary pipeline answers
            log.exception("compiling an operation failed")
            plan = None
        self.plans[key] = plan
        return plan


class CompiledDocuments:
    """The compiled operations of one schema, by (document text, operation name)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema  # an AidmapSchema
        self.gql = schema._schema
        self._operations: BoundedDict[tuple[str, str | None], CompiledOperation | None] = BoundedDict(KEEP_DOCUMENTS)

    def operation(self, query: str, operation_name: str | None) -> CompiledOperation | None:
        if len(query) > CACHED_MAX_CHARS:
            return None  # a long text: a plan made for it would not be kept (schema/documents.py)
        key = (query, operation_name)
        try:
            return self._operations[key]
        except KeyError:
            pass
        compiled = self._compile(query, operation_name)
        self._operations[key] = compiled
        return compiled

    def _compile(self, query: str, operation_name: str | None) -> CompiledOperation | None:
        if "needs" not in query and "offers" not in query:
            return None  # not worth parsing twice: it cannot be a search
        document = checked_document(self.schema, query)
        if document is None:
            return None  # does not parse, over a document limit, or invalid: the pipeline says why
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        try:
            return CompiledOperation(self, document, operation, operation_name)
        except NotCompiled as why:
            log.debug("not compiled: %s", why)
        except Exception:
            log.exception("compiling a document failed")
        return None

    async def execute(self, query: Any, operation_name: Any, variables: Any, ctx: Any) -> ExecutionResult | None:
        """The answer by the compiled path, or None: run the ordinary pipeline instead."""
        if not isinstance(query, str) or not (operation_name is None or isinstance(operation_name, str)):
            return None
        compiled = self.operation(query, operation_name)
        if compiled is None:
            return None
        if variables is None:
            variables = {}
        if not isinstance(variables, dict):
            return None
        coerced = compiled.variables.of(variables)
        if isinstance(coerced, list):
            return None  # bad variables
        check_key = compiled.check_key(coerced, ctx.partner)
        verdict = compiled.checked.get(check_key) if check_key is not None else None
        if verdict is False:
            return None
        if verdict is None and (
            self.schema.checks.refusal_for(compiled.document, operation_name, variables, ctx.partner) is not None
        ):
            if check_key is not None:
                compiled.checked[check_key] = False
            return None  # over cost or outside the key's scopes: the pipeline says so
        plan = compiled.plan_for(coerced)
        if plan is None:
            return None
        started = time.perf_counter()
        viewer = ctx.viewer
        request = _Request(who=ctx.principal, mine=viewer.account_id if viewer is not None else None, reads=[])
        data: dict[str, Any] = {}
        try:
            for name, field in plan:
                value = field if isinstance(field, str) else await field.run(ctx, coerced, request)
                if value is GIVE_UP:
                    return None
                data[name] = value
        except Exception as error:
            if not isinstance(error, UserInputError | GraphQLError) and not database_unavailable(error):
                log.warning("compiled path failed; the ordinary pipeline answers", exc_info=error)
            return None
        if verdict is None and check_key is not None:
            compiled.checked[check_key] = True
        who = request.who
        for need_id, field_read in request.reads:
            ctx.access_log.record(
                need_id=need_id, reader_id=who.account_id, partner_id=who.partner_id, field=field_read
            )
        metrics = ctx.metrics
        if metrics is not None:
            elapsed = time.perf_counter() - started
            ok, latency = compiled.metric_children(metrics)
            ok.inc()
            latency.observe(elapsed)
            metrics.compiled.inc()
            if ctx.settings.access_log:
                log.info(
                    "graphql %s ok", compiled.label,
                    extra={"operation": compiled.label, "outcome": "ok", "duration_ms": round(elapsed * 1000, 2)},
                )  # fmt: skip
        return ExecutionResult(data=data, errors=None)

    # -- plans

    def _collect(self, op: CompiledOperation, coerced: Any, type_: GraphQLObjectType, details: Any) -> Any:
        grouped, defers, forbidden = collect_subfields(self.gql, op.fragments, coerced, op.operation, type_, details)
        return self._checked(grouped, defers, forbidden)

    @staticmethod
    def _checked(grouped: Any, defers: Any, forbidden: Any) -> dict[str, list[FieldDetails]]:
        if defers or forbidden:
            raise NotCompiled("@defer")
        for details in grouped.values():
            if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
                raise NotCompiled("deferred or fragment variables")
        return grouped

    def root_plan(self, op: CompiledOperation, coerced: Any) -> tuple[tuple[str, Any], ...]:
        root = self.gql.query_type
        grouped = self._checked(*collect_fields(self.gql, op.fragments, coerced, root, op.operation))
        plan: list[tuple[str, Any]] = []
        for name, details in grouped.items():
            field_name = details[0].node.name.value
            if field_name == "__typename":
                plan.append((name, root.name))
            elif field_name in ("needs", "offers"):
                plan.append((name, self._search(op, coerced, field_name, details)))
            else:
                raise NotCompiled(field_name)
        return tuple(plan)

    def _search(self, op: CompiledOperation, coerced: Any, kind: str, details: list[FieldDetails]) -> SearchField:
        field = self.gql.query_type.fields[kind]
        node = details[0].node
        uses_variables = _has_variables(node.arguments)
        static_args = None if uses_variables else get_argument_values(field, node, coerced)
        connection = get_named_type(field.type)
        assert isinstance(connection, GraphQLObjectType)
        node_fields = NEED_FIELDS if kind == "needs" else OFFER_FIELDS
        columns: set[str] = {"id"}
        private = False
        entries: list[tuple[str, Getter]] = []
        for name, sub in self._collect(op, coerced, connection, details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                entries.append((name, _constant(connection.name)))
            elif sub_name == "edges":
                edge_type = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge, edge_columns, edge_private = self._edge(op, coerced, edge_type, sub, node_fields, kind)
                columns |= edge_columns
                private |= edge_private
                entries.append((name, _edges(edge)))
            elif sub_name == "pageInfo":
                page_info = get_named_type(connection.fields["pageInfo"].type)
                assert isinstance(page_info, GraphQLObjectType)
                entries.append((name, self._page_info(op, coerced, page_info, sub)))
            else:
                raise NotCompiled(sub_name)
        sql = ", ".join(sorted(_SQL.get(c, c) for c in columns))
        return SearchField(kind, field, node, static_args, tuple(entries), sql, private, _Arguments(field, node))

    def _edge(
        self, op: CompiledOperation, coerced: Any, edge_type: GraphQLObjectType, details: Any,
        node_fields: dict[str, tuple[str, ...]], kind: str,
    ) -> tuple[Entries, set[str], bool]:  # fmt: skip
        entries: list[tuple[str, Getter]] = []
        columns: set[str] = set()
        private = False
        for name, sub in self._collect(op, coerced, edge_type, details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                entries.append((name, _constant(edge_type.name)))
            elif sub_name == "cursor":
                entries.append((name, _cursor))
            elif sub_name == "distanceMeters":
                entries.append((name, _distance(_leaf(edge_type.fields[sub_name].type))))
            elif sub_name == "node":
                node_type = get_named_type(edge_type.fields["node"].type)
                assert isinstance(node_type, GraphQLObjectType)
                node = self._node(op, coerced, node_type, sub, node_fields, kind)
                columns |= node.columns
                private |= node.private
                entries.append((name, _node_getter(node)))
            else:
                raise NotCompiled(sub_name)
        return tuple(entries), columns, private

    def _page_info(self, op: CompiledOperation, coerced: Any, type_: GraphQLObjectType, details: Any) -> Getter:
        entries: list[tuple[str, Getter]] = []
        for name, sub in self._collect(op, coerced, type_, details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                entries.append((name, _constant(type_.name)))
            elif sub_name == "hasNextPage":
                entries.append((name, _has_next(_leaf(type_.fields[sub_name].type))))
            elif sub_name == "endCursor":
                entries.append((name, _end_cursor))
            else:
                raise NotCompiled(sub_name)
        fields = tuple(entries)
        return lambda page, projections, request: _render(fields, page, projections, request)

    def _node(
        self, op: CompiledOperation, coerced: Any, type_: GraphQLObjectType, details: Any,
        node_fields: dict[str, tuple[str, ...]], kind: str,
    ) -> _Node:  # fmt: skip
        entries: list[tuple[str, Getter]] = []
        columns: set[str] = set()
        private = False
        for name, sub in self._collect(op, coerced, type_, details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                entries.append((name, _constant(type_.name)))
                continue
            spec = node_fields.get(sub_name)
            if spec is None:
                raise NotCompiled(f"{type_.name}.{sub_name}")
            field_type = type_.fields[sub_name].type
            how = spec[0]
            if how == "column":
                columns.add(spec[1])
                entries.append((name, _column(spec[1], _leaf(field_type))))
            elif how == "id":
                entries.append((name, _global_id(type_.name)))
            elif how == "mine":
                columns.add(spec[1])
                entries.append((name, _mine(spec[1])))
            elif how == "cell":
                columns.update(_POINT)
                entries.append((name, _cell(kind, self._point(op, coerced, field_type, sub)[1])))
            elif how == "exact" and kind == "offers":
                columns.update(("donor_id", *_POINT))
                entries.append((name, _offer_exact(self._point(op, coerced, field_type, sub)[0])))
            elif how == "exact":
                columns.update(_PRIVACY_COLUMNS)
                private = True
                entries.append((name, _need_exact(self._point(op, coerced, field_type, sub)[0])))
            elif how == "phone":
                columns.update(_PRIVACY_COLUMNS)
                private = True
                entries.append((name, _need_phone(_leaf(field_type))))
            else:  # pragma: no cover - the tables above name only these
                raise NotCompiled(how)
        return _Node(tuple(entries), frozenset(columns), private)

    def _point(
        self, op: CompiledOperation, coerced: Any, field_type: GraphQLOutputType, details: Any
    ) -> tuple[Entries, tuple[tuple[str, str], ...]]:
        """A GeoPoint's selection, applied to a (lon, lat) pair, and its shape: (response name, "lat",
        "lon" or "=TypeName") pairs, the same for every document that selects the point alike."""
        point = get_named_type(field_type)
        assert isinstance(point, GraphQLObjectType)
        entries: list[tuple[str, Getter]] = []
        shape: list[tuple[str, str]] = []
        for name, sub in self._collect(op, coerced, point, details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                entries.append((name, _constant(point.name)))
            elif sub_name in ("lat", "lon"):
                entries.append((name, _coordinate(1 if sub_name == "lat" else 0, _leaf(point.fields[sub_name].type))))
            else:
                raise NotCompiled(sub_name)
            shape.append((name, f"={point.name}" if sub_name == "__typename" else sub_name))
        return tuple(entries), tuple(shape)


def _has_variables(arguments: Any) -> bool:
    found = False

    class Finder(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    for argument in arguments or ():
        visit(argument, Finder())
    return found


# -- getters: (row or page, projection(s), request) -> JSON value


def _constant(value: str) -> Getter:
    return lambda row, projection, request: value


def _edges(entries: Entries) -> Getter:
    render = _renderer(entries)

    def edges(page: Any, projections: Sequence[Any], request: _Request) -> Any:
        out = []
        for i, row in enumerate(page.rows):
            edge = render(row, projections[i] if projections else None, request)
            if edge is GIVE_UP:
                return GIVE_UP
            out.append(edge)
        return out

    return edges


def _cursor(row: Any, projection: Any, request: _Request) -> str:
    return request.cursor(row)


def _distance(serialize: Callable[[Any], Any]) -> Getter:
    return lambda row, projection, request: serialize(round_distance(row.distance))


def _has_next(serialize: Callable[[Any], Any]) -> Getter:
    return lambda page, projections, request: serialize(page.has_next)


def _end_cursor(page: Any, projections: Any, request: _Request) -> str | None:
    return page.cursor(page.rows[-1]) if page.rows else None


def _node_getter(node: _Node) -> Getter:
    return _renderer(node.entries)


def _renderer(entries: Entries) -> Getter:
    """_render(entries, ...) as one function written for these entries: what each row of a page
    goes through. The getters that say how (`inline`: a column, an enum's column, the global id,
    the public cell) are read in place, the others called; the response names are written as string
    literals (repr) and every value the code uses comes from its namespace, never from the
    document's text. The loop and a call per field were 10% of a search's CPU."""
    namespace: dict[str, Any] = {"GIVE_UP": GIVE_UP, "_gid": _cached_global_id, "_cell": _cell_of}
    lines = ["def render(row, projection, request):"]
    values = []
    for i, (name, get) in enumerate(entries):
        how = getattr(get, "inline", None)
        column = how[1] if how is not None and how[0] in ("enum", "str", "id") else None
        if column is not None and not column.isidentifier():
            how = None  # every column name is one; the generic call otherwise, to be sure
        can_give_up = True
        if how is not None and how[0] == "enum":
            namespace[f"t{i}"] = how[2]
            lines.append(f"    v{i} = t{i}.get(row.{column}, GIVE_UP)")
        elif how is not None and how[0] == "str":
            namespace[f"s{i}"] = how[2]
            lines += [f"    v{i} = row.{column}", f"    if type(v{i}) is not str:", f"        v{i} = s{i}(v{i})"]
        elif how is not None and how[0] == "id":
            namespace[f"c{i}"] = how[2]
            lines.append(f"    v{i} = _gid(c{i}, row.{column})")
            can_give_up = False
        elif how is not None and how[0] == "cell":
            namespace[f"c{i}"], namespace[f"k{i}"] = how[1], how[2]
            lines.append(f"    v{i} = _cell(c{i}, k{i}, row.id, row.lon, row.lat)")
        else:
            namespace[f"g{i}"] = get
            lines.append(f"    v{i} = g{i}(row, projection, request)")
        if can_give_up:
            lines += [f"    if v{i} is GIVE_UP:", "        return GIVE_UP"]
        values.append(f"{name!r}: v{i}")
    lines.append("    return {" + ", ".join(values) + "}")
    exec(compile("\n".join(lines), "<aidmap compiled render>", "exec"), namespace)  # noqa: S102
    return namespace["render"]  # type: ignore[no-any-return]


def _column(column: str, serialize: Callable[[Any], Any]) -> Getter:
    get = attrgetter(column)
    # The two commonest cases without a second call: an enum's value, a string that is a string.
    table = getattr(serialize, "table", None)
    if table is not None:
        enum: Any = lambda row, projection, request: table.get(get(row), GIVE_UP)  # noqa: E731
        enum.inline = ("enum", column, table)  # how _renderer reads it in place
        return enum  # type: ignore[no-any-return]
    if getattr(serialize, "plain_str", False):

        def string(row: Any, projection: Any, request: _Request) -> Any:
            value = get(row)
            return value if type(value) is str else serialize(value)

        string.inline = ("str", column, serialize)  # type: ignore[attr-defined]
        return string
    return lambda row, projection, request: serialize(get(row))


# The same few thousand needs near the places people search answer most requests: their global ids
# and public cells (both fixed by the row: its id, its exact point) are computed once each.
_cached_global_id = lru_cache(maxsize=32_768)(to_global_id)


def _global_id(type_name: str) -> Getter:
    get: Any = lambda row, projection, request: _cached_global_id(type_name, row.id)  # noqa: E731
    get.inline = ("id", "id", type_name)
    return get  # type: ignore[no-any-return]


def _mine(column: str) -> Getter:
    return lambda row, projection, request: getattr(row, column) == request.mine


def _coordinate(index: int, serialize: Callable[[Any], Any]) -> Getter:
    return lambda point, projection, request: serialize(point[index])


def _cell(kind: str, shape: tuple[tuple[str, str], ...]) -> Getter:
    # snap_to_cell of the exact point, as the views compute it: the same digits, and the public cell
    # alone. The shape as one string: a str keeps its hash, a tuple of pairs would hash on every row.
    key = " ".join(f"{name}:{what}" for name, what in shape)  # GraphQL names hold neither ":" nor " "
    get: Any = lambda row, projection, request: _cell_of(key, kind, row.id, row.lon, row.lat)  # noqa: E731
    get.inline = ("cell", key, kind)
    return get  # type: ignore[no-any-return]


@lru_cache(maxsize=32_768)
def _row_cell(kind: str, row_id: int, lon: float, lat: float) -> tuple[float, float]:
    # Keyed by the row as well as its point: whether a point was snapped before then says only
    # whether this row was shown before, never whether a stranger's need sits exactly where one's
    # own does (a cache keyed by the point alone let a client time that, once per point).
    return snap_to_cell(lon, lat)


def _cell_of(shape: str, kind: str, row_id: int, lon: float, lat: float) -> Any:
    # Two caches, and only the first knows the exact point, keyed by its row. The rendered dicts
    # are kept by the public cell: a cache keyed by the client's own shape and the exact point would
    # let a client time, with fresh aliases each try, whether a stranger's need sits exactly where
    # its own does (a review found it).
    cell_lon, cell_lat = _row_cell(kind, row_id, lon, lat)
    return _rendered_cell(shape, cell_lon, cell_lat)


@lru_cache(maxsize=32_768)
def _rendered_cell(shape: str, cell_lon: float, cell_lat: float) -> Any:
    """A public cell as a selection of this shape writes it: the same few thousand cells answer
    most searches, orjson only reads the dict, and one bounded cache serves every document whatever
    documents are sent. The shape's "=Name" is a __typename."""
    out: dict[str, Any] = {}
    for name, what in (pair.split(":") for pair in shape.split(" ") if pair):
        if what == "lat" or what == "lon":
            value = cell_lat if what == "lat" else cell_lon
            if not _plain_float(value):
                return GIVE_UP  # what GeoPoint's Float! would refuse to write
            out[name] = value
        else:
            out[name] = what[1:]
    return out


def _offer_exact(point: Entries) -> Getter:
    def exact(row: Any, projection: Any, request: _Request) -> Any:
        if request.mine is None or row.donor_id != request.mine:
            return None  # an offer's point is its donor's alone
        return _render(point, (row.lon, row.lat), None, request)

    return exact


def _need_exact(point: Entries) -> Getter:
    def exact(row: Any, projection: Any, request: _Request) -> Any:
        if projection.exact is None:
            return None
        if reads_to_log(request.who, projection):
            request.reads.append((row.id, models.PrivateField.EXACT_LOCATION))
        return _render(point, projection.exact, None, request)

    return exact


def _need_phone(serialize: Callable[[Any], Any]) -> Getter:
    def phone(row: Any, projection: Any, request: _Request) -> Any:
        if projection.contact_phone is None:
            return None
        if reads_to_log(request.who, projection):
            request.reads.append((row.id, models.PrivateField.CONTACT_PHONE))
        return serialize(projection.contact_phone)

    return phone
