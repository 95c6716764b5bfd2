"""Human reviews (review, review_lease, judge_calibration), developer consent and licence, and the trace's
curation metadata, authenticity flags and review summary

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("trace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("curation", _JSON, nullable=True))
        batch_op.add_column(sa.Column("upstream_commit", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("reviews_required", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review_decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("human_score", sa.Float(), nullable=True))
        batch_op.create_index("ix_trace_duplicate_of", ["duplicate_of"], unique=False)

    op.create_table(
        "review",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=False),
        sa.Column("criteria", _JSON, nullable=False),
        sa.Column("overall", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("event_marks", _JSON, nullable=False),
        sa.Column("rubric_version", sa.String(length=64), nullable=False),
        sa.Column("supersedes_id", _BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["trace.trace_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_trace_id", "review", ["trace_id"], unique=False)
    op.create_index("ix_review_trace_reviewer", "review", ["trace_id", "reviewer_id"], unique=False)
    op.create_index("ix_review_reviewer_created", "review", ["reviewer_id", "created_at"], unique=False)

    op.create_table(
        "review_lease",
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["trace.trace_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trace_id", "reviewer_id"),
    )
    op.create_index("ix_review_lease_expires_at", "review_lease", ["expires_at"], unique=False)

    op.create_table(
        "judge_calibration",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("rubric_version", sa.String(length=64), nullable=False),
        sa.Column("mapping", _JSON, nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("judge", "version", name="uq_judge_calibration_version"),
    )

    op.create_table(
        "developer_consent",
        sa.Column("developer_id", sa.String(length=200), nullable=False),
        sa.Column("licence", sa.String(length=64), nullable=False),
        sa.Column("consent_given_at", sa.DateTime(), nullable=True),
        sa.Column("external_use", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("developer_id"),
    )


def downgrade() -> None:
    op.drop_table("developer_consent")
    op.drop_table("judge_calibration")
    op.drop_index("ix_review_lease_expires_at", table_name="review_lease")
    op.drop_table("review_lease")
    op.drop_index("ix_review_reviewer_created", table_name="review")
    op.drop_index("ix_review_trace_reviewer", table_name="review")
    op.drop_index("ix_review_trace_id", table_name="review")
    op.drop_table("review")
    with op.batch_alter_table("trace", schema=None) as batch_op:
        batch_op.drop_index("ix_trace_duplicate_of")
        for column in (
            "human_score",
            "review_decision",
            "reviews_required",
            "duplicate_of",
            "upstream_commit",
            "curation",
        ):
            batch_op.drop_column(column)
