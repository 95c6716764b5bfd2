"""Review queue benchmark: how long one take (GET /api/reviews/queue's work) lasts as the trace table grows.

Seeds N finished traces straight into the tables, the older half already reviewed (their summary set, a
fifth of them double-review traces with one review so far), then times takes by fresh reviewers.

    python benchmarks/review_queue_bench.py                       # 50k traces in a temporary SQLite file
    python benchmarks/review_queue_bench.py --traces 20000 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

BASE = datetime(2026, 1, 1)


def seed(database, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from bugtrail.db.models import Review, Trace

    reviewed = count // 2
    traces = [
        {
            "trace_id": str(uuid.uuid4()),
            "developer_id": f"dev{i % 50}",
            "repo_url": "https://github.com/ex/calc",
            "bug_description": "bench",
            "status": "completed",
            "content_hash": "0" * 64,
            "event_count": 0,
            "created_at": BASE + timedelta(seconds=i),
            "updated_at": BASE,
            "resolved": bool(i % 2),
            "reasoning_score": float(1 + i % 5),
            "human_score": 3.0 if i < reviewed else None,
            "review_decision": "accept" if i < reviewed else None,
            "reviews_required": (2 if i % 5 == 0 else 1) if i < reviewed else None,
        }
        for i in range(count)
    ]
    reviews = [
        {
            "trace_id": trace["trace_id"],
            "reviewer_id": "earlier",
            "criteria": {},
            "overall": 3.0,
            "decision": "accept",
            "reason": "bench",
            "event_marks": [],
            "rubric_version": "bench",
            "created_at": BASE,
        }
        for trace in traces[:reviewed]
    ]
    with database.scope() as session:
        for start in range(0, count, 5000):
            session.execute(insert(Trace), traces[start : start + 5000])
        for start in range(0, len(reviews), 5000):
            session.execute(insert(Review), reviews[start : start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=50_000)
    parser.add_argument("--takes", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from bugtrail.auth.keys import Principal
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database
    from bugtrail.db.migrate import upgrade
    from bugtrail.reviews import queue

    data_dir = Path(tempfile.mkdtemp(prefix="bugtrail-review-bench-"))
    settings = Settings(data_dir=data_dir, database_url=args.database_url, embedded_worker=False)
    database = Database(settings)
    upgrade(database.engine)
    seed(database, args.traces)
    timings = []
    for i in range(args.takes):
        reviewer = Principal(key_id=i, developer_id=f"bench-reviewer-{i}", role="reviewer")
        started = time.perf_counter()
        with database.scope() as session:
            taken = queue.take(session, settings, reviewer)
        timings.append(time.perf_counter() - started)
        assert taken.trace_id is not None
    database.dispose()
    print(
        f"{args.traces} traces ({database.dialect}), {args.takes} takes: "
        f"median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
