"""How a QA run can end other than with test results; the pipeline maps each to an outcome.

- QaSkipped: nothing to run (no base_commit, repo not allowlisted) -> outcome `skipped`, never retried.
- QaInputError: the trace itself cannot be replayed (base_commit not in the repo) -> outcome `error`,
  not retried.
- QaInfraError: the machinery failed (no Docker daemon, clone failed, container died) -> retried with backoff,
  outcome `error` once attempts are used up.
A failing test or a diff that does not apply is none of these: it is a test result.
"""

from __future__ import annotations


class QaProblem(Exception):
    retryable = False

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return self.reason if not self.detail else f"{self.reason}: {self.detail}"


class QaSkipped(QaProblem):
    pass


class QaInputError(QaProblem):
    pass


class QaInfraError(QaProblem):
    retryable = True
