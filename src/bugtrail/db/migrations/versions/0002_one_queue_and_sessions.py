"""one job queue for every task kind; server-side dashboard sessions

- job: trace_id becomes optional (webhook deliveries are about no trace), concurrency_key added (per-receiver
  limits), kind "qa" renamed "qa.run".
- Every pending webhook delivery gets a "webhook.deliver" job carrying its attempts and due time, so
  deliveries queued before the upgrade keep being delivered by the one worker loop.
- dashboard_session: the cookie holds a random token; this table holds its sha256, key, expiry, revocation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values the code uses (a migration must not change when the code does).
QA_KIND, OLD_QA_KIND, DELIVER_KIND = "qa.run", "qa", "webhook.deliver"
DEFAULT_WEBHOOK_MAX_ATTEMPTS = 8

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _receiver_key(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"webhook:{scheme}://{(parts.hostname or '').lower()}:{port}"


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.alter_column("trace_id", existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column("concurrency_key", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_job_running_key", ["state", "concurrency_key"], unique=False)

    job = sa.table(
        "job",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("trace_id", sa.String),
        sa.column("concurrency_key", sa.String),
        sa.column("state", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("max_attempts", sa.Integer),
        sa.column("run_after", sa.DateTime),
        sa.column("payload", JSONType),
        sa.column("created_at", sa.DateTime),
    )
    bind = op.get_bind()
    bind.execute(job.update().where(job.c.kind == OLD_QA_KIND).values(kind=QA_KIND))

    delivery = sa.table(
        "webhook_delivery",
        sa.column("id", sa.Integer),
        sa.column("webhook_id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("next_attempt_at", sa.DateTime),
        sa.column("created_at", sa.DateTime),
    )
    webhook = sa.table("webhook", sa.column("id", sa.Integer), sa.column("url", sa.String))
    # Typed columns, so SQLite hands back datetimes rather than strings.
    pending = bind.execute(
        sa.select(
            delivery.c.id,
            delivery.c.attempts,
            delivery.c.next_attempt_at,
            delivery.c.created_at,
            webhook.c.url,
        )
        .select_from(delivery.join(webhook, webhook.c.id == delivery.c.webhook_id))
        .where(delivery.c.state == "pending")
        .order_by(delivery.c.id)
    ).fetchall()
    rows = [
        {
            "kind": DELIVER_KIND,
            "trace_id": None,
            "concurrency_key": _receiver_key(url),
            "state": "queued",
            "attempts": attempts,
            "max_attempts": max(DEFAULT_WEBHOOK_MAX_ATTEMPTS, attempts + 1),
            "run_after": next_attempt_at,
            "payload": {"delivery_id": delivery_id},
            "created_at": created_at,
        }
        for delivery_id, attempts, next_attempt_at, created_at, url in pending
    ]
    if rows:
        op.bulk_insert(job, rows)

    op.create_table(
        "dashboard_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("dashboard_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_session_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dashboard_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_session_key_id"))
    op.drop_table("dashboard_session")
    # Deliveries stay in webhook_delivery (the old dispatcher reads them there); their jobs go.
    op.execute(sa.text("DELETE FROM job WHERE trace_id IS NULL"))
    op.execute(sa.text(f"UPDATE job SET kind = '{OLD_QA_KIND}' WHERE kind = '{QA_KIND}'"))
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_running_key")
        batch_op.drop_column("concurrency_key")
        batch_op.alter_column("trace_id", existing_type=sa.String(length=36), nullable=False)
