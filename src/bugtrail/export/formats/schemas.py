"""The exported schema of each format with its version, for the committed snapshots in
tests/data/export_schemas/ (tests/unit/test_export_schemas.py fails when a schema changes without a bump).

    python -m bugtrail.export.formats.schemas tests/data/export_schemas     # refresh after bumping
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bugtrail.export.formats import adp, hf, sft
from bugtrail.export.formats.adp_schema import ADP_SCHEMA_VERSION, Trajectory

VERSION_CONSTANTS = {
    "sft": "bugtrail.export.formats.sft.SCHEMA_VERSION",
    "adp": "bugtrail.export.formats.adp.SCHEMA_VERSION",
    "hf": "bugtrail.export.formats.hf.SCHEMA_VERSION",
}


def current() -> dict[str, dict[str, Any]]:
    empty = {"trace_id": "t", "developer_id": "d", "repo_url": "r", "bug_description": "b", "created_at": "c"}
    adp_details = adp.to_adp_row(empty, [])["details"]
    return {
        "sft": {"schema_version": sft.SCHEMA_VERSION, "json_schema": _shape(sft.SftRow.model_json_schema())},
        "adp": {
            "schema_version": adp.SCHEMA_VERSION,
            "adp_spec_version": ADP_SCHEMA_VERSION,
            "json_schema": _shape(Trajectory.model_json_schema()),
            "details_keys": sorted(adp_details),
            "step_reward_keys": sorted([*sft.StepReward.model_fields, "content_index"]),
        },
        "hf": {
            "schema_version": hf.SCHEMA_VERSION,
            "arrow_schema": [{"name": field.name, "type": str(field.type)} for field in hf.SCHEMA],
            "json_columns": sorted(hf.JSON_COLUMNS),
        },
    }


def _shape(schema: Any, under_properties: bool = False) -> Any:
    """The JSON schema without prose (`title`, `description`): rewording a field is not a schema change.
    Keys directly under `properties` are field names (ADP has a field called `description`) and stay."""
    if isinstance(schema, dict):
        return {
            key: _shape(value, key == "properties" and not under_properties)
            for key, value in schema.items()
            if under_properties or key not in ("title", "description") or not isinstance(value, str)
        }
    if isinstance(schema, list):
        return [_shape(item) for item in schema]
    return schema


def drift(fmt: str, committed: dict[str, Any]) -> str | None:
    """Why the committed snapshot of `fmt` no longer holds, or None when it does."""
    now = json.loads(json.dumps(current()[fmt]))
    if committed == now:
        return None
    refresh = "python -m bugtrail.export.formats.schemas tests/data/export_schemas"
    if committed.get("schema_version") == now["schema_version"]:
        return (
            f"the {fmt} export schema changed but its version is still {now['schema_version']}: bump "
            f"{VERSION_CONSTANTS[fmt]}, then refresh the snapshot with `{refresh}`"
        )
    return f"{VERSION_CONSTANTS[fmt]} is {now['schema_version']}: refresh the snapshot with `{refresh}`"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, snapshot in current().items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/export_schemas")):
        print(f"wrote {path}")
