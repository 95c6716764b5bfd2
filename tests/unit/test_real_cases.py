"""The real-repository cases' metadata, and the failure a missing mirror gives (pure: no mirror needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tests.support.real_cases as cases_module
from bugtrail.config import Settings
from bugtrail.qa.patching import is_test_file
from tests.support.real_cases import CASES
from tests.support.real_traces import MirrorMissing, require_mirror

SHA = re.compile(r"[0-9a-f]{40}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_metadata_is_consistent(case: cases_module.RealCase) -> None:
    assert SHA.fullmatch(case.fix_commit) and SHA.fullmatch(case.base_commit)
    patterns = Settings().test_file_patterns
    # QA's before run applies exactly the test-file edits: the defaults must classify these files right.
    assert all(is_test_file(path, patterns) for path in case.test_files)
    assert not any(is_test_file(path, patterns) for path in case.source_files)
    assert all(test_id.split("::")[0] in case.test_files for test_id in case.fail_to_pass)
    assert case.test_command.split()[-1] in case.test_files


def test_missing_mirror_fails_naming_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cases_module, "MIRROR_ROOT", tmp_path)
    with pytest.raises(MirrorMissing) as raised:
        require_mirror(CASES[0])
    assert f"fetch github:{CASES[0].repo}" in str(raised.value)
    assert str(tmp_path) in str(raised.value)
