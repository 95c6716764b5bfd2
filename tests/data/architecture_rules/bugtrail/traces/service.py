"""Violation (transaction): a service commits."""


def finalize(session, trace):
    trace.status = "queued"
    session.commit()
