"""trace.environment (the recorded Python environment) and repo_configs (per-repository QA configuration)

Revision ID: 0003
Revises: 0001 (re-chained after 0002 on merge: change DOWN_REVISION only)
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

DOWN_REVISION = "0002"

revision: str = "0003"
down_revision: str | None = DOWN_REVISION
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("trace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("environment", _JSON, nullable=True))

    op.create_table(
        "repo_configs",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("url_prefix", sa.String(length=2000), nullable=False),
        sa.Column("install_commands", _JSON, nullable=False),
        sa.Column("python_version", sa.String(length=16), nullable=True),
        sa.Column("test_command", sa.Text(), nullable=True),
        sa.Column("test_file_patterns", _JSON, nullable=False),
        sa.Column("image", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_prefix"),
    )


def downgrade() -> None:
    op.drop_table("repo_configs")
    with op.batch_alter_table("trace", schema=None) as batch_op:
        batch_op.drop_column("environment")
