"""Complete plain fields without graphql-core's per-field machinery.

Most of a list response is fields without a resolver of their own, strawberry's "basic"
fields that only read an attribute: `edges`, `node`, `title`, `approximateLocation { lat lon }`.
graphql-core still builds a resolve info, a path and a completion dispatch for each of them,
which was most of the CPU time of a 20-item `needs` page (bench/throughput.py).

For each selection (once per execution, reused for every item of a list) this builds a
completer for the fields that are plain reads of a scalar, an enum, a list or an object whose
selected fields are all plain too, and applies it directly. Everything else (resolvers,
interfaces and unions, @defer and @stream, middleware) goes through graphql-core unchanged.
A completer that meets a value it cannot complete (null where non-null is promised, a value
that does not serialize) gives up, and the field runs the ordinary way, which reports the
proper error: a plain read has no side effects, so reading it twice is harmless.

Plans are also kept across requests for documents without directives (the parser cache hands
out the same document object for the same text, so its field nodes identify a selection; with
no @include/@skip the selection does not depend on the variables).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.language import BREAK, Visitor
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from aidmap.bounded import BoundedDict
from aidmap.schema.documents import cacheable

GIVE_UP: Any = object()  # a completer's answer for "complete this field the ordinary way"

Completer = Callable[[Any], Any]
FieldDetailsList = Sequence[FieldDetails]
# (response name, field details, completer or None for the ordinary way)
Plan = tuple[tuple[str, FieldDetailsList, Completer | None], ...]

# Across requests: (schema, parent type, selection's field nodes) -> (what keeps the ids valid, plan).
KEEP = 512
_shared_plans: BoundedDict[tuple[Any, ...], tuple[object, Plan | None]] = BoundedDict(KEEP)
_static_documents: BoundedDict[int, tuple[object, bool]] = BoundedDict(KEEP)


class _HasDirective(Visitor):
    found = False

    def enter_directive(self, *_: Any) -> Any:
        self.found = True
        return BREAK


def _without_directives(nodes: Sequence[Any]) -> bool:
    for node in nodes:
        finder = _HasDirective()
        visit(node, finder)
        if finder.found:
            return False
    return True


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def _plans(self) -> dict[int, tuple[object, Plan | None]]:
        plans = self.__dict__.get("_plain_plans")
        if plans is None:
            plans = self.__dict__["_plain_plans"] = {}
        return plans

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Plan | None:
        """The fields of one selection with their completers (None when no field is plain)."""
        plans = self._plans()
        key = id(grouped_field_set)
        cached = plans.get(key)
        if cached is not None:
            return cached[1]
        shared_key = None
        if self._static():
            shape = tuple((name, *(id(d.node) for d in details)) for name, details in grouped_field_set.items())
            shared_key = (id(self.schema), parent_type.name, shape)
            shared = _shared_plans.get(shared_key)
            if shared is not None:
                plans[key] = (grouped_field_set, shared[1])
                return shared[1]
        plans[key] = (grouped_field_set, None)  # keeps the key's object alive, and stops recursion
        entries = tuple(
            (name, details, self._field_completer(parent_type, details)) for name, details in grouped_field_set.items()
        )
        plan = entries if any(completer is not None for _, _, completer in entries) else None
        plans[key] = (grouped_field_set, plan)
        if shared_key is not None:
            _shared_plans[shared_key] = ((self.schema, grouped_field_set), plan)
        return plan

    def _static(self) -> bool:
        """Is the document free of directives (so its selections do not depend on the variables)?"""
        operation = self.operation
        if not cacheable(operation):
            return False  # a long text is parsed anew each time: plans kept for it would never be used
        known = _static_documents.get(id(operation))
        if known is None:
            nodes = [operation, *(getattr(f, "definition", f) for f in self.fragments.values())]
            known = (nodes, _without_directives(nodes))
            _static_documents[id(operation)] = known
        return known[1]

    def _field_completer(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Completer | None:
        if any(d.defer_usage is not None or d.node.directives or d.node.arguments for d in details):
            return None
        name = details[0].node.name.value
        if name == "__typename":
            type_name = parent_type.name
            return lambda _source: type_name
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None or not getattr(field_def.resolve, "_is_default", False):
            return None
        strawberry_field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if strawberry_field is None or strawberry_field.default_resolver is not getattr:
            return None
        complete = self._value_completer(field_def.type, details)
        if complete is None:
            return None
        attribute = strawberry_field.python_name

        def read(source: Any) -> Any:
            try:
                value = getattr(source, attribute)
            except Exception:
                return GIVE_UP
            return complete(value)

        return read

    def _value_completer(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Completer | None:
        nullable = not isinstance(type_, GraphQLNonNull)
        inner = type_ if nullable else type_.of_type  # type: ignore[union-attr]
        on_null = None if nullable else GIVE_UP

        if is_leaf_type(inner):
            serialize = inner.serialize  # type: ignore[union-attr]

            def leaf(value: Any) -> Any:
                if value is None:
                    return on_null
                try:
                    out = serialize(value)
                except Exception:
                    return GIVE_UP
                return GIVE_UP if out is None or out is Undefined else out

            return leaf

        if isinstance(inner, GraphQLList):
            complete_item = self._value_completer(inner.of_type, details)
            if complete_item is None:
                return None

            def items(value: Any) -> Any:
                if value is None:
                    return on_null
                if not isinstance(value, list | tuple):
                    return GIVE_UP
                out = []
                for item in value:
                    completed = complete_item(item)
                    if completed is GIVE_UP:
                        return GIVE_UP
                    out.append(completed)
                return out

            return items

        if isinstance(inner, GraphQLObjectType):
            grouped_field_set, new_defer_usages, forbidden = self.collect_subfields(inner, details)
            if new_defer_usages or forbidden:
                return None
            plan = self._plan(inner, grouped_field_set)
            if plan is None or any(completer is None for _, _, completer in plan):
                return None
            fields = tuple((name, completer) for name, _, completer in plan)
            is_type_of = inner.is_type_of

            def obj(value: Any) -> Any:
                if value is None:
                    return on_null
                if is_type_of is not None:
                    try:
                        if is_type_of(value, None) is not True:  # strawberry's ignore the info
                            return GIVE_UP
                    except Exception:
                        return GIVE_UP
                out = {}
                for name, completer in fields:
                    completed = completer(value)  # type: ignore[misc]
                    if completed is GIVE_UP:
                        return GIVE_UP
                    out[name] = completed
                return out

            return obj

        return None  # interfaces and unions: their runtime type is resolved the ordinary way

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(parent_type, grouped_field_set) if position_context is None else None
        if plan is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for name, details, completer in plan:
                if completer is not None:
                    completed = completer(source_value)
                    if completed is not GIVE_UP:
                        results[name] = completed
                        continue
                result = self.execute_field(
                    parent_type, source_value, details, Path(path, name, parent_type.name), position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:  # as graphql-core's execute_fields
            if len(awaitable_fields) == 1:
                results[awaitable_fields[0]] = await results[awaitable_fields[0]]
            else:
                awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()
