"""Each export format's schema is committed with its version (tests/data/export_schemas/): changing a
schema without bumping the version fails here, and so does a bump without a refreshed snapshot."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bugtrail.export.formats import schemas
from bugtrail.export.formats.sft import to_sft_row
from tests.support.export_records import full_record

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "export_schemas"


def _committed(fmt: str) -> dict:
    return json.loads((SNAPSHOTS / f"{fmt}.json").read_text())


@pytest.mark.parametrize("fmt", ["sft", "adp", "hf"])
def test_the_exported_schema_matches_its_versioned_snapshot(fmt):
    problem = schemas.drift(fmt, _committed(fmt))
    assert problem is None, problem


def test_a_schema_change_without_a_bump_is_caught_and_a_bump_asks_for_a_refresh():
    older = copy.deepcopy(_committed("sft"))
    del older["json_schema"]["properties"]["licence"]  # as if the licence column were new
    assert "changed but its version is still" in (schemas.drift("sft", older) or "")
    older["schema_version"] = "0.9.0"  # the version was bumped: now only the snapshot is stale
    assert "refresh the snapshot" in (schemas.drift("sft", older) or "")
    retyped = copy.deepcopy(_committed("hf"))
    retyped["arrow_schema"][0]["type"] = "int64"
    assert "bump bugtrail.export.formats.hf.SCHEMA_VERSION" in (schemas.drift("hf", retyped) or "")


def test_snapshot_prose_is_not_schema_but_field_names_are():
    text = json.dumps(schemas.current()["adp"]["json_schema"])
    assert '"description": {' in text  # the ADP field called description is kept
    assert "per-step reward" not in text  # prose is not


def test_rows_carry_the_version_in_the_snapshot():
    record = full_record()
    assert to_sft_row(record, record["events"])["schema_version"] == _committed("sft")["schema_version"]
