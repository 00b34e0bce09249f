"""One parse and one validation per document text, shared by every path that reads documents:
strawberry's pipeline (SharedParse and validation_errors, through CheckedValidation), the compiled
search path and the websocket path (checked_document).

A new document used to be parsed and validated twice, once by the compiled path to see whether it
compiles and again by strawberry's own caches: 30 aliased `needs` pages sent with fresh whitespace
each time (which no cache helps) cost ~200 ms of server CPU, two validations of ~60 ms each.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, Node, parse
from graphql.validation import (
    ASTValidationRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    VariablesInAllowedPositionRule,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from aidmap.bounded import BoundedDict

KEEP = 256
# Texts longer than this are parsed and validated each time they come, never kept: what a cache keeps
# the garbage collector walks on every full collection, and 256 cached 800-token documents (~10,000
# objects each) made each of those a pause of the whole process. The page's and the partner
# examples' largest documents are under 1,500 characters, and a cold document of any size stays
# within the CPU budget (tests/guards/test_costliest_documents.py).
CACHED_MAX_CHARS = 4_000


def parsed(query: str, **options: Any) -> DocumentNode:
    """The document of this text (the same object for the same short text and options); a
    GraphQLError when it does not parse, which is not cached."""
    if len(query) > CACHED_MAX_CHARS:
        return parse(query, **options)
    return _parsed(query, **options)


@lru_cache(maxsize=KEEP)
def _parsed(query: str, **options: Any) -> DocumentNode:
    return parse(query, **options)


def cacheable(node: Node) -> bool:
    """Whether what is derived from this document (or a node of it) may be kept across requests: its
    text is short."""
    return node.loc is not None and len(node.loc.source.body) <= CACHED_MAX_CHARS


_VARIABLE_USAGE_RULES = frozenset({NoUndefinedVariablesRule, NoUnusedVariablesRule, VariablesInAllowedPositionRule})
# id(document) -> (document, schema, rules, errors); the document kept so its id stays its own.
_validated: BoundedDict[
    int, tuple[DocumentNode, GraphQLSchema, tuple[type[ASTValidationRule], ...], list[GraphQLError]]
]
_validated = BoundedDict(KEEP)


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """strawberry's validation of the document against these rules (graphql-core's and its own two),
    once per document object."""
    known = _validated.get(id(document))
    if known is not None and known[0] is document and known[1] is schema and known[2] == rules:
        return known[3]
    run = rules
    if document.loc is not None and "$" not in document.loc.source.body:
        # No `$` in the text: no variable is defined or used, so these rules have nothing to
        # report, and each walked the whole document once more (~40% of validating 1,000 tokens).
        run = tuple(rule for rule in rules if rule not in _VARIABLE_USAGE_RULES)
    errors = validate_document(schema, document, run)
    if cacheable(document):
        _validated[id(document)] = (document, schema, rules, errors)
    return errors


class SharedParse(SchemaExtension):
    """strawberry's ParserCache, on the cache the other paths share (`parsed`)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = parsed(context.query, **context.parse_options)  # type: ignore[arg-type]
        yield
