"""Allowed: the queue's SQL in its repository, importing the database layer (not a domain)."""

from sqlalchemy import select

from bugtrail.db.models import Job


def next_job(session):
    return session.scalar(select(Job).order_by(Job.id).limit(1))
