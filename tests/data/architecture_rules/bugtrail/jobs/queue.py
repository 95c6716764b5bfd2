"""Violation (jobs-imports-domain): a domain imported as a package attribute."""

from bugtrail import traces


def describe(job):
    return traces.__name__, job
