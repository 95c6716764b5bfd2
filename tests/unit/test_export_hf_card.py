"""The hf directory built from sft rows without a database: load_from_disk works, the card's counts are
the rows', and hostile licence or filter text cannot break the card's YAML header or tables."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from datasets import load_from_disk

from bugtrail.export.formats.hf import HfDatasetWriter, write_hf_from_sft_file
from bugtrail.export.formats.sft import to_sft_row
from tests.support.export_records import empty_record, full_record, hostile_record


def _rows():
    records = [full_record(), hostile_record(output_bytes=256 * 1024), empty_record()]
    records[1]["created_at"] = "2026-04-30T23:30:00-02:00"  # 2026-05-01 in UTC: the May partition
    return [to_sft_row(record, record["events"]) for record in records]


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_the_card_counts_what_was_written_and_escapes_hostile_text(tmp_path):
    out = tmp_path / "hf"
    writer = HfDatasetWriter(out, {"repo_url": "x\n---\n| evil |", "status": ["completed"]}, export_id=7)
    for row in _rows():
        writer.add(row)
    writer.finish()
    dataset = load_from_disk(str(out))
    assert dataset.num_rows == 3
    assert json.loads(dataset[0]["reviews"])[0]["reviewer_id"] == "rev1"
    assert dataset[0]["step_rewards"][1]["fail_to_pass_done"] is True
    card = (out / "README.md").read_text()
    header = _front_matter(card)
    assert header["license"] == "other"  # three different licences (one missing)
    assert header["configs"][0]["data_files"][0]["path"] == "data/**/*.parquet"
    assert "- rows: **3**" in card and "export: #7" in card
    assert "| CC-BY-4.0 | 1 |" in card and "| (none) | 1 |" in card
    hostile_line = next(line for line in card.splitlines() if line.startswith("| CC-BY-4.0 ---"))
    assert "\\| x \\| \\<script\\>" in hostile_line and hostile_line.endswith("| 1 |")
    assert "| repo\\_url |" not in card and '| repo_url | "x\\\\n---\\\\n\\| evil \\|" |' in card
    assert card.count("\n---\n") == 1  # only the header's closing line
    assert "reviewed traces: 1 (2 reviews)" in card and "human score: n=1, mean 3.50" in card
    assert "traces with step-level checkpoints: 1 (1 reach fail_to_pass_done)" in card
    assert "| 2026-03 | 2 |" in card and "| 2026-05 | 1 |" in card
    assert (out / "data" / "created_month=2026-05" / "part-00000.parquet").exists()


def test_one_hub_licence_is_named_and_a_rebuild_from_the_sft_file_matches(tmp_path):
    rows = [to_sft_row(full_record(), full_record()["events"])]
    second = copy.deepcopy(full_record())
    second["trace_id"] = "second"
    rows.append(to_sft_row(second, second["events"]))
    source = tmp_path / "sft.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    count, sha256 = write_hf_from_sft_file(source, tmp_path / "hf", {}, None)
    assert count == 2 and len(sha256) == 64
    assert _front_matter((tmp_path / "hf" / "README.md").read_text())["license"] == "cc-by-4.0"
    assert load_from_disk(str(tmp_path / "hf"))["trace_id"] == [rows[0]["trace_id"], "second"]


def test_an_empty_export_is_an_empty_dataset_and_a_used_directory_is_refused(tmp_path):
    writer = HfDatasetWriter(tmp_path / "hf", {})
    writer.finish()
    assert load_from_disk(str(tmp_path / "hf")).num_rows == 0
    assert "- rows: **0**" in (tmp_path / "hf" / "README.md").read_text()
    with pytest.raises(FileExistsError):
        HfDatasetWriter(tmp_path / "hf", {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        HfDatasetWriter(tmp_path / "file", {})
    writer = HfDatasetWriter(tmp_path / "bad", {})
    with pytest.raises(ValueError, match="row 'x': created_at 'yesterday' is not ISO 8601"):
        writer.add({"trace_id": "x", "created_at": "yesterday"})
