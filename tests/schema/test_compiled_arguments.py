"""The compiled path's variables and arguments (schema/fast/compiled.py _Variables, _Arguments) are graphql-core's.

_Arguments coerces a field's arguments once and then only puts each request's variables in their
places. For documents with variables in every position an argument can hold them (a whole input
object, its fields, a list, an item of a list, a scalar, with and without defaults), and for many
variable sets in turn on the same _Arguments (present, missing, null, other values), its answer
must equal get_argument_values' on the same variables, or both must refuse them.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from graphql import GraphQLError, OperationDefinitionNode, get_argument_values, parse
from graphql.execution.values import get_variable_values

from aidmap.geo.privacy import snap_to_cell
from aidmap.schema import schema
from aidmap.schema.fast.compiled import _Arguments, _cell_of, _rendered_cell, _row_cell, _Variables

DOCUMENTS = [
    "query ($lat: Float!, $lon: Float!) { needs(near: {lat: $lat, lon: $lon}, radiusMeters: 5000, "
    "categories: [FOOD], first: 20) { edges { cursor } } }",
    "query ($near: GeoPointInput!, $first: Int!) { needs(near: $near, radiusMeters: 800, first: $first) "
    "{ edges { cursor } } }",
    "query ($lat: Float!, $r: Float = 3000, $cats: [NeedCategory!]) { needs(near: {lat: $lat, lon: 105.8}, "
    "radiusMeters: $r, categories: $cats, first: 5) { edges { cursor } } }",
    "query ($c: NeedCategory!, $lat: Float!, $lon: Float!) { needs(near: {lat: $lat, lon: $lon}, "
    "radiusMeters: 900, categories: [$c, FOOD], first: 3) { edges { cursor } } }",
    "query ($lat: Float!, $lon: Float!, $after: String, $order: NeedOrder = URGENCY, $u: [Urgency!]) "
    "{ needs(near: {lat: $lat, lon: $lon}, radiusMeters: 2500, first: 10, after: $after, orderBy: $order, "
    "urgencies: $u) { edges { cursor } } }",
    "query ($lat: Float!, $lon: Float!, $first: Int = 7) { offers(near: {lon: $lon, lat: $lat}, "
    "radiusMeters: 1200, first: $first) { edges { cursor } } }",
]


def _random_variables(rng: random.Random) -> dict[str, Any]:
    choices: dict[str, list[Any]] = {
        "lat": [21.0 + rng.random(), 10.7, 16, None],
        "lon": [105.8 + rng.random(), 106, None],
        "near": [{"lat": 21.02, "lon": 105.85}, {"lat": 10 + rng.random(), "lon": 106.7}, None],
        "first": [1, 20, 7, None],
        "r": [500.0, 4999.5, None],
        "cats": [["FOOD"], ["MEDICINE", "FOOD"], [], None],
        "c": ["MEDICINE", "ERRAND", None],
        "after": ["abc", None],
        "order": ["DISTANCE", "URGENCY", None],
        "u": [["HIGH"], ["LOW", "CRITICAL"], None],
    }
    variables: dict[str, Any] = {}
    for name, values in choices.items():
        pick = rng.randrange(len(values) + 1)
        if pick < len(values):  # else the variable is not sent at all
            variables[name] = values[pick]
    return variables


def _ordinary(field: Any, node: Any, coerced: Any) -> Any:
    try:
        return get_argument_values(field, node, coerced)
    except GraphQLError as error:
        return ("refused", error.message)


def _compiled(arguments: _Arguments, coerced: Any) -> Any:
    try:
        return arguments.of(coerced)
    except GraphQLError as error:
        return ("refused", error.message)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_arguments_with_variables_in_their_places_are_graphql_cores(text: str) -> None:
    gql = schema._schema
    operation = parse(text).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    field = gql.query_type.fields[node.name.value]  # type: ignore[union-attr]
    arguments = _Arguments(field, node)  # type: ignore[arg-type]
    rng = random.Random(text)
    compared = substituted = 0
    for _ in range(800):
        coerced = get_variable_values(gql, operation.variable_definitions, _random_variables(rng))
        if isinstance(coerced, list):
            continue  # the variables themselves are refused before any argument is coerced
        had_base = arguments.base is not None
        assert _compiled(arguments, coerced) == _ordinary(field, node, coerced)
        compared += 1
        substituted += had_base and arguments.paths is not None
    assert compared > 50
    if "[$c" not in text:  # a variable inside a list is always coerced the ordinary way
        assert substituted > 20, "the substitution itself was compared, not only the first coercion"


VARIABLE_DOCUMENTS = [
    "query ($lat: Float!, $lon: Float!) { __typename }",
    "query ($first: Int!, $after: String!, $yes: Boolean!) { __typename }",
    "query ($lat: Float!, $first: Int) { __typename }",  # a nullable one: always graphql-core's way
    "query ($lat: Float! = 1.5) { __typename }",  # a default: always graphql-core's way
    "query ($lat: Float!, $cats: [NeedCategory!]!) { __typename }",  # a non-null list: graphql-core's way
]
ODD_VALUES = [1, 2.5, float("inf"), float("nan"), 2**31, -(2**31), True, "21.0", None, [1.0], {"a": 1}, "", "x"]


def _values(result: Any) -> Any:
    if isinstance(result, list):
        return ("refused", [error.message for error in result])
    return (result.coerced, {name: source.value for name, source in result.sources.items()})


@pytest.mark.parametrize("text", VARIABLE_DOCUMENTS)
def test_variables_taken_as_they_are_are_graphql_cores(text: str) -> None:
    gql = schema._schema
    operation = parse(text).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    variables = _Variables(gql, operation.variable_definitions)
    assert (variables.plain is not None) == (text.startswith("query ($lat: Float!, $lon") or "$yes" in text)
    rng = random.Random(text)
    names = [d.variable.name.value for d in operation.variable_definitions]
    for _ in range(400):
        inputs = {name: rng.choice([rng.random() * 100 - 50, rng.randrange(-5, 5), "abc", *ODD_VALUES])
                  for name in names if rng.random() < 0.9}  # fmt: skip
        ours, theirs = variables.of(inputs), get_variable_values(gql, operation.variable_definitions, inputs)
        assert _values(ours) == _values(theirs), inputs
        assert type(ours) is type(theirs)


def test_what_the_selection_keyed_cell_cache_holds_depends_on_the_public_cell_alone() -> None:
    # A client chooses the selection's shape freely (aliases): a cache keyed by that shape and the
    # exact point would let it time whether a stranger's need sits exactly where its own does. Two
    # exact points of one cell, through a shape never seen before, must give one entry, not two.
    lon, lat = 105.8412345, 21.0287654
    cell = snap_to_cell(lon, lat)
    other = next((lon + d, lat + d) for d in (1e-5, -1e-5, 2e-5, -2e-5) if snap_to_cell(lon + d, lat + d) == cell)
    shape = f"fresh{random.randrange(10**9)}:lat"
    before = _rendered_cell.cache_info()
    first, second = _cell_of(shape, "needs", 1, lon, lat), _cell_of(shape, "needs", 2, *other)
    after = _rendered_cell.cache_info()
    assert first == second == {shape.split(":")[0]: cell[1]}
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


def test_a_strangers_need_at_ones_own_exact_point_is_snapped_as_if_it_were_anywhere_else() -> None:
    # The exact-point cache is keyed by the row too: an attacker who files a need at a guessed exact
    # point and has it shown must not warm the entry a stranger's need at that point would hit, or
    # the stranger's row would answer measurably faster exactly when the guess is right.
    lon, lat = 105.8398765 + random.random() * 1e-3, 21.0271234 + random.random() * 1e-3
    before = _row_cell.cache_info()
    _cell_of("x:lat", "needs", 10**9 + 1, lon, lat)  # the attacker's own need, shown to them
    _cell_of("x:lat", "needs", 10**9 + 2, lon, lat)  # the stranger's, at the same exact point
    _cell_of("x:lat", "offers", 10**9 + 2, lon, lat)  # an offer with the stranger's need's number
    after = _row_cell.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (3, 0)
