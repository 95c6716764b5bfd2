"""db.models.UtcDateTime: aware UTC out of SQLite and PostgreSQL alike, whatever zone went in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from bugtrail.auth.keys import create_key
from bugtrail.db.engine import Database
from bugtrail.db.models import ApiKey, utcnow

BERLIN_SUMMER = timezone(timedelta(hours=2))


def test_timestamps_come_back_aware_utc_and_compare_across_zones(database: Database) -> None:
    noon_utc = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with database.scope() as session:
        row, _ = create_key(session, "tz", "developer")
        row.revoked_at = datetime(2026, 6, 1, 14, 0, tzinfo=BERLIN_SUMMER)  # the same instant as noon UTC
        key_id = row.id
    with database.scope(read_only=True) as session:
        stored = session.get(ApiKey, key_id)
        assert stored is not None and stored.revoked_at is not None
        assert stored.revoked_at.tzinfo is UTC and stored.revoked_at == noon_utc
        assert stored.created_at.tzinfo is UTC
        assert abs(utcnow() - stored.created_at) < timedelta(minutes=5)
        # Bounds in any zone, or naive (taken as UTC), compare as the same instant in SQL.
        for bound in (noon_utc, noon_utc.astimezone(BERLIN_SUMMER), noon_utc.replace(tzinfo=None)):
            found = session.scalars(select(ApiKey.id).where(ApiKey.revoked_at >= bound)).all()
            assert found == [key_id], bound
            later = session.scalars(select(ApiKey.id).where(ApiKey.revoked_at > bound)).all()
            assert later == [], bound
