"""Words of the API that messages name, listed so `make messages` puts them in the catalog.

A message's value named `field`, `status` or `kind` is one of these words, said in the catalog's
context of the same name ("{field} must not be empty." says "Tiêu đề không được để trống." for
title); "code" is the general message for an error code, for a message the catalog cannot say; and
"category" names a need's category in notifications (notify/texts.py). A word with no translation
is said as it is. tests/test_i18n.py checks the fields the code checks and every status are here.
"""

from __future__ import annotations

from aidmap.i18n import term

# Input fields, as the API names them.
FIELDS = (
    term("field", "accountId"), term("field", "address"), term("field", "after"), term("field", "areaCode"),
    term("field", "areaCodes"), term("field", "collectionPointId"), term("field", "name"),
    term("field", "managerId"), term("field", "reachMeters"), term("field", "unitsPerDay"),
    term("field", "attestation"), term("field", "authorization"), term("field", "availableUntil"),
    term("field", "body"), term("field", "category"), term("field", "code"), term("field", "contactPhone"),
    term("field", "content"), term("field", "currentPassword"), term("field", "details"),
    term("field", "displayName"), term("field", "endpoint"), term("field", "events"), term("field", "expiresAt"),
    term("field", "expires_at"), term("field", "external_id"), term("field", "first"),
    term("field", "helpRequestId"), term("field", "householdSize"), term("field", "idempotencyKey"),
    term("field", "ids"), term("field", "language"), term("field", "location"), term("field", "near"),
    term("field", "needId"), term("field", "newPassword"), term("field", "offerId"),
    term("field", "onBehalfOf"), term("field", "onBehalfOf.displayName"), term("field", "onBehalfOf.phone"), term("field", "p256dh"),
    term("field", "password"), term("field", "phone"), term("field", "pledgeId"), term("field", "proposalId"),
    term("field", "quantity"), term("field", "quietHoursEnd"), term("field", "quietHoursStart"),
    term("field", "radiusMeters"), term("field", "reason"), term("field", "role"), term("field", "statuses"),
    term("field", "timeZone"), term("field", "title"), term("field", "unit"), term("field", "urgency"),
    term("field", "url"), term("field", "webhookId"),
)  # fmt: skip

# Statuses of needs, offers and pledges, in lower case as messages say them.
STATUSES = (
    term("status", "open"), term("status", "partly_pledged"), term("status", "pledged"),
    term("status", "fulfilled"), term("status", "cancelled"), term("status", "expired"),
    term("status", "pending_verification"), term("status", "under_review"), term("status", "rejected"),
    term("status", "active"), term("status", "exhausted"), term("status", "withdrawn"),
    term("status", "delivered"),
)  # fmt: skip

# What an id names ("No {kind} has this id.").
KINDS = (
    term("kind", "need"), term("kind", "offer"), term("kind", "pledge"), term("kind", "account"),
    term("kind", "matchproposal"), term("kind", "helprequest"), term("kind", "webhook"),
    term("kind", "collectionpoint"),
)  # fmt: skip

# The general message for an error code (a message the catalog cannot say).
CODES = (
    term("code", "REQUIRED"), term("code", "INVALID"), term("code", "TOO_LONG"), term("code", "TOO_SHORT"),
    term("code", "TOO_COMMON"), term("code", "OUT_OF_RANGE"), term("code", "NOT_FOUND"),
    term("code", "UNAUTHENTICATED"), term("code", "FORBIDDEN"), term("code", "INVALID_STATE"),
    term("code", "PHONE_TAKEN"), term("code", "INVALID_CREDENTIALS"), term("code", "QUANTITY_EXCEEDS_OPEN"),
    term("code", "OWN_NEED"), term("code", "OFFER_UNAVAILABLE"), term("code", "QUOTA_EXCEEDED"),
    term("code", "ALREADY_REPORTED"), term("code", "IDEMPOTENCY_KEY_REUSED"), term("code", "TOO_MANY_ATTEMPTS"),
    term("code", "CLAIM_CODE_WRONG"), term("code", "CLAIM_CODE_EXPIRED"), term("code", "DISCLOSURE_LIMIT"),
    term("code", "ATTESTATION_INVALID"), term("code", "UNAVAILABLE"),
)  # fmt: skip

# A need's category in notifications (the English word is notify/texts.py's).
CATEGORIES = (
    term("category", "food"), term("category", "medicine"), term("category", "study device"),
    term("category", "medical consultation"), term("category", "essentials"), term("category", "errand"),
    term("category", "other"),
)  # fmt: skip
