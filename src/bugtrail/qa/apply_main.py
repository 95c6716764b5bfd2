"""Entry point of the edit applier that runs INSIDE a hardened runner container (see qa.apply_container).

Reads the job (edits, test-file patterns) from a JSON file, applies the edits to the mounted work tree with
qa.patching, and prints the per-edit reports as one JSON document on stdout. Standard library only: the
container has python3, git and patch, not bugtrail's dependencies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(job_path: str, tree: str) -> int:
    # `python3 -I` puts neither the cwd nor the script dir on sys.path: only our read-only bundle goes on it.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bugtrail.qa.patching import EditSpec, apply_edits

    job = json.loads(Path(job_path).read_text())
    edits = [EditSpec(int(e["index"]), str(e["event_id"]), dict(e["details"])) for e in job["edits"]]
    reports = apply_edits(Path(tree), edits, [str(p) for p in job["patterns"]])
    sys.stdout.write(json.dumps([report.as_dict() for report in reports]))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
