"""The GraphQL schema: root types, error masking and the parse/validation caches."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache

import strawberry
from graphql import DocumentNode, GraphQLError, specified_rules
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

from aidmap.i18n import msg, translate
from aidmap.observability import MetricsExtension
from aidmap.problems import UserInputError
from aidmap.schema.documents import CACHED_MAX_CHARS, SharedParse, parsed, validation_errors
from aidmap.schema.fast.sharing import SharingExecutionContext
from aidmap.schema.limits import Limits, OperationChecks, operation_checks
from aidmap.schema.mutation import Mutation
from aidmap.schema.query import Query
from aidmap.schema.subscription import Subscription
from aidmap.schema.types import Account, Message, Need, Offer, Pledge

log = logging.getLogger("aidmap.graphql")


class ReadYourWrites(SchemaExtension):
    """After a viewer's mutation, this process reads that viewer's searches on the primary for a while,
    so what they just wrote is there even when the replica lags (db/replica.py)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        router, viewer = getattr(context, "router", None), getattr(context, "viewer", None)
        if router is None or viewer is None:
            return
        try:
            mutation = self.execution_context.operation_type is OperationType.MUTATION
        except Exception:  # no operation to name (a document that did not parse, an unknown name)
            return
        if mutation:
            router.wrote(viewer.account_id)


def should_mask_error(error: GraphQLError) -> bool:
    """Syntax/validation errors and UserInputError are for the client; anything else is a bug to hide."""
    original = error.original_error
    # No original error, or one graphql-core raised itself (e.g. coercing a variable): a client mistake.
    if original is None or isinstance(original, GraphQLError):
        return False
    if isinstance(original, UserInputError):
        error.extensions = {"code": original.code.value, "field": original.field}
        error.message = translate(original.args[0] if original.args else error.message, original.code.value)
        return False
    if database_unavailable(original):
        # Not a bug: the database is restarting or unreachable. Say so, so clients retry (safely with
        # an idempotencyKey: a write whose answer was lost may have committed).
        log.warning("database unavailable in %s: %s", error.path, type(original).__name__)
        error.message = translate(UNAVAILABLE_MESSAGE, "UNAVAILABLE")
        error.extensions = {"code": "UNAVAILABLE", "retryable": True}
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


UNAVAILABLE_MESSAGE = msg("The database is unavailable for a moment; retry in a few seconds.")
UNEXPECTED_MESSAGE = msg("Unexpected error.")


class ServiceUnavailable(Exception):
    """Raised where a websocket's credentials cannot be checked because the database is down."""


def database_unavailable(error: BaseException) -> bool:
    """A lost or refused database connection (as opposed to a bug in a query)."""
    import psycopg
    import psycopg_pool
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error.orig, psycopg.OperationalError)
    return isinstance(error, psycopg.OperationalError | psycopg_pool.PoolTimeout | ConnectionError)


class ClientSafeErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=UNEXPECTED_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        anonymised = super().anonymise_error(error)
        anonymised.message = translate(UNEXPECTED_MESSAGE, None)
        return anonymised


class CheckedValidation(SchemaExtension):
    """Spreads, depth and aliases (linear: schema/limits.py) before graphql-core's validation,
    which a document over those limits never reaches; then that validation, once per document
    (schema/documents.py)."""

    limits = Limits()

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        errors = self.limits.document_errors(document) if document is not None else []
        if errors or document is None:
            context.pre_execution_errors = errors or None
            yield
            return
        context.pre_execution_errors = validation_errors(context.schema._schema, document, context.validation_rules)
        yield


class AidmapSchema(strawberry.Schema):
    limits: Limits
    checks: type[OperationChecks]
    limit_rules: tuple[type[ASTValidationRule], ...]

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        # Strawberry logs every error with a traceback; client mistakes are not server errors,
        # and unexpected ones were already logged by ClientSafeErrors.
        return None


def build_schema(limits: Limits | None = None) -> AidmapSchema:
    """The schema with its limits (depth, aliases, tokens, cost, introspection only in dev mode)."""
    limits = limits or Limits(dev=True)
    rules = limits.validation_rules()  # built once: the validation cache keys on these objects
    checks = operation_checks(limits)
    validation = type("BoundCheckedValidation", (CheckedValidation,), {"limits": limits})
    built = AidmapSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Account, Need, Offer, Pledge, Message],
        extensions=[
            ClientSafeErrors,
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: AddValidationRules(rules),
            SharedParse,
            validation,
            checks,
            MetricsExtension,
            ReadYourWrites,
        ],
        execution_context_class=SharingExecutionContext,
    )
    checks.schema = built._schema
    built.limits = limits
    built.checks = checks
    built.limit_rules = tuple(rules)
    return built


# For the SDL (export-schema, the committed schema.graphql); the server builds its own from its settings.
schema = build_schema()


def checked_document(schema: AidmapSchema, query: str) -> DocumentNode | None:
    """The parsed document if it parses, is within the document limits and validates, else None
    (the websocket path and the persisted-query store; strawberry's pipeline reports the errors).
    Kept for short texts only (schema/documents.py)."""
    return _check(schema, query) if len(query) > CACHED_MAX_CHARS else _checked(schema, query)


@lru_cache(maxsize=256)
def _checked(schema: AidmapSchema, query: str) -> DocumentNode | None:
    return _check(schema, query)


def _check(schema: AidmapSchema, query: str) -> DocumentNode | None:
    try:
        document = parsed(query, max_tokens=schema.limits.max_tokens)  # strawberry's pipeline's key too
    except GraphQLError:
        return None
    if schema.limits.document_errors(document):
        return None
    rules = (*specified_rules, *schema.limit_rules)  # what strawberry validates with (AddValidationRules)
    return None if validation_errors(schema._schema, document, rules) else document
