#!/bin/sh
# Container entrypoint for the api, worker and migrate services; runs the command given (compose sets
# `init: true`, so signals reach it and zombies are reaped).
set -e

# Workers: BUGTRAIL_WORKER_DATA_ROOT gives each container its own data dir below it (scratch work trees and QA
# logs), named by an id kept for the container's lifetime. Scratch dirs are named host-pid; containers on the
# host network share the host's name but not its pid namespace, so one worker's orphan sweep could otherwise
# mistake another container's live scratch dir for a dead process's. The clone cache stays shared (locked).
if [ -n "${BUGTRAIL_WORKER_DATA_ROOT:-}" ]; then
    # In the container's own /tmp (it lives as long as the container); the worker is not root, so not /etc.
    id_file=/tmp/bugtrail-container-id
    if [ ! -s "$id_file" ]; then
        od -An -N6 -tx1 /dev/urandom | tr -d ' \n' > "$id_file"
    fi
    BUGTRAIL_DATA_DIR="$BUGTRAIL_WORKER_DATA_ROOT/$(cat "$id_file")"
    export BUGTRAIL_DATA_DIR
fi

# A fresh volume or host directory may be empty: create what the settings point at.
for dir in "${BUGTRAIL_DATA_DIR:-}" "${BUGTRAIL_CLONE_CACHE_DIR:-}" "${TMPDIR:-}"; do
    if [ -n "$dir" ] && [ ! -d "$dir" ]; then
        mkdir -p "$dir"
    fi
done
exec "$@"
