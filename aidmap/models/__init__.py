"""SQLAlchemy tables, one module per aggregate."""

from aidmap.models.account import AccessToken, Account, Role, VerifierArea
from aidmap.models.area import AdminArea, AreaLevel
from aidmap.models.attestation import Attestation, SigningKey, TrustedDeployment
from aidmap.models.base import Base
from aidmap.models.collection_point import CollectionPoint
from aidmap.models.event import Event, EventKind
from aidmap.models.help import DonorAvailability, HelpAsk, HelpRequest, HelpRequestStatus
from aidmap.models.idempotency import IdempotencyKey
from aidmap.models.identity import KnownSignInPlace, NeedClaimCode, SignInBackoff
from aidmap.models.location_read import LocationRead, PrivateField, ReadChannel
from aidmap.models.message import Message
from aidmap.models.need import Need, NeedCategory, NeedOrder, NeedReport, NeedStatus, Urgency
from aidmap.models.notification import (
    Channel,
    LiveSocket,
    Notification,
    NotificationCursor,
    NotificationKind,
    NotificationLane,
    NotificationPreference,
    NotificationStatus,
    PushSubscription,
    SmsCharge,
)
from aidmap.models.offer import Offer, OfferStatus
from aidmap.models.partner import Partner, PartnerQuery, PersistedQuery, Scope
from aidmap.models.pledge import Pledge, PledgeStatus
from aidmap.models.proposal import MatchProposal, ProposalStatus
from aidmap.models.rate_limit import RateBucket, RateLimitProcess
from aidmap.models.webhook import DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "CollectionPoint",
    "Channel",
    "LiveSocket",
    "Notification",
    "SmsCharge",
    "NotificationCursor",
    "NotificationKind",
    "NotificationLane",
    "NotificationPreference",
    "NotificationStatus",
    "PushSubscription",
    "AccessToken",
    "Account",
    "AdminArea",
    "Attestation",
    "SigningKey",
    "TrustedDeployment",
    "AreaLevel",
    "Base",
    "DonorAvailability",
    "HelpAsk",
    "IdempotencyKey",
    "HelpRequest",
    "HelpRequestStatus",
    "Event",
    "EventKind",
    "LocationRead",
    "MatchProposal",
    "Message",
    "ProposalStatus",
    "PrivateField",
    "ReadChannel",
    "Need",
    "NeedCategory",
    "NeedClaimCode",
    "NeedReport",
    "NeedStatus",
    "Partner",
    "PartnerQuery",
    "PersistedQuery",
    "RateBucket",
    "RateLimitProcess",
    "Scope",
    "Offer",
    "OfferStatus",
    "Pledge",
    "PledgeStatus",
    "Role",
    "SignInBackoff",
    "KnownSignInPlace",
    "Urgency",
    "NeedOrder",
    "VerifierArea",
    "DeliveryStatus",
    "Webhook",
    "WebhookDelivery",
]
