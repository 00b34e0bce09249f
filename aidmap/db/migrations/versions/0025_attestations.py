"""Attestations: verification as a signed, portable statement (a compact JWS, EdDSA/Ed25519).

attestation_keys holds the signing keys (public JWK, private key encrypted with a key derived from
AIDMAP_SECRET_KEY), attestations the tokens issued and their revocation, trusted_deployments the other
deployments whose JWKS the operator trusted (`aidmap trust add`), and needs remember which deployment's
attestation came with a need.

Revision ID: 0025_attestations
Revises: 0024_report_weight
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025_attestations"
down_revision = "0024_report_weight"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attestation_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_attestation_keys"),
        sa.UniqueConstraint("active", name="uq_attestation_keys_active"),
    )
    op.create_table(
        "attestations",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("need_id", sa.BigInteger(), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"], name="fk_attestations_need_id_needs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("jti", name="pk_attestations"),
    )
    op.create_index("ix_attestations_need_id", "attestations", ["need_id"])
    op.create_index(
        "ix_attestations_revoked_expires", "attestations", ["expires_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )  # fmt: skip
    op.create_table(
        "trusted_deployments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("jwks_url", sa.Text(), nullable=False),
        sa.Column("jwks", postgresql.JSONB(), nullable=False),
        sa.Column("status_url", sa.Text(), nullable=False),
        sa.Column("revoked", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trusted_deployments"),
        sa.UniqueConstraint("name", name="uq_trusted_deployments_name"),
        sa.UniqueConstraint("issuer", name="uq_trusted_deployments_issuer"),
    )
    op.add_column("needs", sa.Column("attested_by_id", sa.BigInteger(), nullable=True))
    op.add_column("needs", sa.Column("received_attestation", sa.Text(), nullable=True))
    # An attestation comes with one need only (resolvers/attestations.py looks it up).
    op.create_index("ix_needs_received_attestation", "needs", ["received_attestation"])
    op.create_foreign_key(
        "fk_needs_attested_by_id_trusted_deployments", "needs", "trusted_deployments", ["attested_by_id"], ["id"],
        ondelete="SET NULL",
    )  # fmt: skip


def downgrade() -> None:
    op.drop_constraint("fk_needs_attested_by_id_trusted_deployments", "needs", type_="foreignkey")
    op.drop_index("ix_needs_received_attestation", table_name="needs")
    op.drop_column("needs", "received_attestation")
    op.drop_column("needs", "attested_by_id")
    op.drop_table("trusted_deployments")
    op.drop_table("attestations")
    op.drop_table("attestation_keys")
