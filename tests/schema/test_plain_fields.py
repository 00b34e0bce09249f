"""The plain-field completer answers exactly as graphql-core does, errors included."""

from __future__ import annotations

import enum

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from aidmap.schema.fast.plain_fields import PlainFieldsExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Point:
    lat: float
    lon: float


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):
    quantity: int
    colour: Colour
    where: Point
    maybe_where: Point | None
    tags: list[str]
    calls: strawberry.Private[list[int]]

    @strawberry.field
    def computed(self) -> str:
        self.calls.append(1)
        return self.name.upper()


@strawberry.type
class Edge:
    node: Item
    distance: float


@strawberry.type
class Page:
    edges: list[Edge]
    total: int | None


def items(broken: str | None = None) -> list[Item]:
    made = []
    for i in range(3):
        where = Point(lat=10.0 + i, lon=106.0 + i)
        made.append(
            Item(name=f"item {i}", quantity=i, colour=Colour.RED if i % 2 else Colour.BLUE, where=where,
                 maybe_where=None if i == 1 else where, tags=["a", "b"][: i + 1], calls=[])
        )  # fmt: skip
    if broken == "null name":
        made[2].name = None  # type: ignore[assignment]
    if broken == "bad enum":
        made[1].colour = "green"  # type: ignore[assignment]
    if broken == "nan":
        made[0].where = Point(lat=float("nan"), lon=1.0)
    if broken == "not a list":
        made[0].tags = 5  # type: ignore[assignment]
    return made


@strawberry.type
class Query:
    @strawberry.field
    def page(self, broken: str | None = None) -> Page:
        rows = items(broken)
        return Page(edges=[Edge(node=r, distance=float(i * 100)) for i, r in enumerate(rows)], total=len(rows))

    @strawberry.field
    def named(self) -> list[Named]:
        return items()


def run(context_class: type, query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = schema.execute_sync(query, variable_values=variables)
    return {
        "data": result.data,
        "errors": [(e.message, e.path) for e in result.errors or []],
    }


QUERIES = [
    "{ page { total edges { distance node { name quantity colour where { lat lon } maybeWhere { lat } tags } } } }",
    "{ page { edges { d: distance node { __typename n: name computed where { lon } } } } }",
    "query ($b: String) { page(broken: $b) { total edges { node { name quantity } } } }",
    "{ page { edges { node { ...F } } } } fragment F on Item { name where { lat } ... on Named { name } }",
    "query ($yes: Boolean!) { page { edges { node { name @include(if: $yes) quantity @skip(if: $yes) } } } }",
    "{ named { __typename name ... on Item { quantity colour } } }",
]
BROKEN = [
    "{ page(broken: $b) { total edges { node { name } } } }",
    "{ page(broken: $b) { edges { node { colour quantity } } } }",
    "{ page(broken: $b) { edges { distance node { where { lat lon } } } } }",
    "{ page(broken: $b) { edges { node { tags } } } }",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("yes", [True, False])
def test_same_answer_as_graphql_core(query: str, yes: bool) -> None:
    variables = {"yes": yes} if "$yes" in query else None
    expected = run(StrawberryGraphQLCoreExecutionContext, query, variables)
    assert not expected["errors"]
    assert run(PlainFieldsExecutionContext, query, variables) == expected


@pytest.mark.parametrize("broken", ["null name", "bad enum", "nan", "not a list"])
@pytest.mark.parametrize("body", BROKEN)
def test_same_errors_as_graphql_core(body: str, broken: str) -> None:
    query = "query ($b: String) " + body
    expected = run(StrawberryGraphQLCoreExecutionContext, query, {"b": broken})
    assert run(PlainFieldsExecutionContext, query, {"b": broken}) == expected


def test_a_broken_value_is_reported_with_its_path() -> None:
    answer = run(PlainFieldsExecutionContext, '{ page(broken: "null name") { edges { node { name } } } }')
    assert answer["data"] is None  # name is non-null all the way up to the nullable root
    assert answer["errors"] == [
        ("Cannot return null for non-nullable field Item.name.", ["page", "edges", 2, "node", "name"])
    ]


def test_resolvers_still_run_once_per_object() -> None:
    rows = items()

    @strawberry.type
    class Q:
        @strawberry.field
        def all(self) -> list[Item]:
            return rows

    schema = strawberry.Schema(query=Q, execution_context_class=PlainFieldsExecutionContext)
    result = schema.execute_sync("{ all { name computed computed2: computed } }")
    assert not result.errors
    assert result.data == {
        "all": [{"name": r.name, "computed": r.name.upper(), "computed2": r.name.upper()} for r in rows]
    }
    assert [len(r.calls) for r in rows] == [2, 2, 2]


def test_plain_fields_skip_graphql_cores_field_machinery() -> None:
    calls: list[str] = []

    class Counting(PlainFieldsExecutionContext):
        def execute_field(self, parent_type, source, details, path, position_context):  # type: ignore[no-untyped-def]
            calls.append(f"{parent_type.name}.{details[0].node.name.value}")
            return super().execute_field(parent_type, source, details, path, position_context)

    answer = run(Counting, QUERIES[0])
    assert not answer["errors"]
    assert calls == ["Query.page"]  # everything under it is plain: 3 edges x 12 fields read directly
    calls.clear()
    run(Counting, QUERIES[1])
    # A resolver runs the ordinary way, and so do the objects above it; their other fields stay plain.
    assert calls == ["Query.page", "Page.edges"] + ["Edge.node", "Item.computed"] * 3


def test_plans_kept_across_requests_follow_the_variables() -> None:
    plain = strawberry.Schema(query=Query, execution_context_class=PlainFieldsExecutionContext)
    ordinary = strawberry.Schema(query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext)
    for query in (
        QUERIES[4],
        "query ($yes: Boolean!) { page { edges { node { ... on Item @include(if: $yes) { name } quantity } } } }",
    ):
        for yes in (True, False, True):
            got = plain.execute_sync(query, variable_values={"yes": yes})
            want = ordinary.execute_sync(query, variable_values={"yes": yes})
            assert (got.data, got.errors) == (want.data, want.errors)
    for broken in (None, "null name", None):
        got = plain.execute_sync(BROKEN[0].replace("$b", '"x"' if broken is None else f'"{broken}"'))
        want = ordinary.execute_sync(BROKEN[0].replace("$b", '"x"' if broken is None else f'"{broken}"'))
        assert (got.data, [e.message for e in got.errors or []]) == (want.data, [e.message for e in want.errors or []])
