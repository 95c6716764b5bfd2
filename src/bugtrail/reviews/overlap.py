"""How many independent reviews a trace gets: 2 for a BUGTRAIL_REVIEW_OVERLAP share of traces, else 1.

Fixed once per trace, when the queue first hands it out (or at its first review, if it was reviewed
without the queue). The choice is a running quota, not a coin flip: the next trace is double-reviewed when
that keeps the doubles at floor(share x traces assigned so far), so after n assignments exactly
floor(share x n) are double (20 traces at 0.2: 4), whatever order reviewers work in. Two first hand-outs
committed at the same instant on PostgreSQL can both read the same counts; the quota then corrects itself
on the next assignments.
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from bugtrail.reviews import repository as repo

_EPSILON = 1e-9  # 0.2 * 5 is 1.0000000000000002 or 0.9999999999999999 depending on the path


def required_reviews(assigned: int, doubles: int, share: float) -> int:
    """Pure rule: 2 when one more double keeps doubles within floor(share x (assigned + 1))."""
    return 2 if doubles < math.floor(share * (assigned + 1) + _EPSILON) else 1


def required_for_next(session: Session, share: float) -> int:
    assigned, doubles = repo.overlap_counts(session)
    return required_reviews(assigned, doubles, share)
