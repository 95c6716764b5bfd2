"""Violation (jobs-imports-domain): the queue runs a domain's job itself."""

from bugtrail.qa.pipeline import run_qa_job


def handle(job):
    return run_qa_job(job)
