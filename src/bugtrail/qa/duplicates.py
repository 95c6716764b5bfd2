"""duplicate_of: the earliest earlier trace of the same repository and bug with a near-identical final patch.

Candidates come from qa.repository.duplicate_candidates (same repo_url, finalized earlier, capped by
`duplicate_max_candidates`); the same bug means the same base_commit or bug descriptions that read alike
(BUG_TEXT_THRESHOLD); near-identical means qa.patch_lines.similarity of the two net patches at or above
`duplicate_threshold`. Only earlier traces are candidates, so links never form a cycle.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from sqlalchemy.orm import Session

from bugtrail.config import Settings
from bugtrail.qa import repository as qa_repo
from bugtrail.qa.patch_lines import similarity, trace_patch
from bugtrail.wire import TraceRead

BUG_TEXT_THRESHOLD = 0.8
BUG_TEXT_CHARS = 2000  # bug descriptions are compared on their first characters (SequenceMatcher is O(n²))


def find_duplicate(session: Session, settings: Settings, trace: TraceRead) -> str | None:
    """The trace id this trace duplicates, or None. Read-only."""
    if settings.duplicate_max_candidates == 0:
        return None
    patch = trace_patch(event.details for event in trace.events if event.type == "edit")
    if not patch:
        return None
    candidates = qa_repo.duplicate_candidates(
        session,
        trace_id=str(trace.trace_id),
        repo_url=trace.repo_url,
        base_commit=trace.base_commit,
        created_at=trace.created_at,
        limit=settings.duplicate_max_candidates,
    )
    same_bug = [
        row
        for row in candidates
        if (trace.base_commit is not None and row.base_commit == trace.base_commit)
        or same_bug_text(row.bug_description, trace.bug_description)
    ]
    # Oldest first, so the first match is the earliest; one candidate's edits in memory at a time.
    for row in sorted(same_bug, key=lambda row: (row.created_at, row.trace_id)):
        edits = qa_repo.edit_details(session, [row.trace_id])[row.trace_id]
        if similarity(patch, trace_patch(edits)) >= settings.duplicate_threshold:
            return str(row.trace_id)
    return None


def same_bug_text(a: str, b: str) -> bool:
    left, right = (" ".join(text[:BUG_TEXT_CHARS].split()).lower() for text in (a, b))
    if left == right:
        return True
    matcher = SequenceMatcher(None, left, right, autojunk=False)
    return matcher.quick_ratio() >= BUG_TEXT_THRESHOLD and matcher.ratio() >= BUG_TEXT_THRESHOLD
