#!/usr/bin/env bash
# Post the seed plan's example trace to a running server and read it back.
# Usage: BUGTRAIL_SERVER=http://127.0.0.1:8000 BUGTRAIL_API_KEY=<key> examples/e2e.sh
set -euo pipefail
server=${BUGTRAIL_SERVER:-http://127.0.0.1:8000}
key=${BUGTRAIL_API_KEY:?set BUGTRAIL_API_KEY (e.g. from: bugtrail keys create --developer alice)}
here=$(dirname "$0")
# The seed example names alice; the server takes developer_id from the key, so drop it from the body.
body=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("developer_id"); print(json.dumps(d))' \
       "$here/seed_trace.json")
created=$(curl -sf -X POST "$server/api/traces?finalize=true" -H "Authorization: Bearer $key" \
          -H 'content-type: application/json' --data "$body")
echo "created: $created"
trace_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["trace_id"])' "$created")
curl -sf "$server/api/traces/$trace_id" -H "Authorization: Bearer $key" | python3 -c '
import json, sys
trace = json.load(sys.stdin)
print("trace %s: status=%s events=%d" % (trace["trace_id"], trace["status"], len(trace["events"])))
for event in trace["events"]:
    print("  #%d %s %s" % (event["seq"], event["timestamp"], event["type"]))
assert len(trace["events"]) == 4, "expected the 4 seed events back"
'
