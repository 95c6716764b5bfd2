#!/bin/sh
# Make sure the directories the settings point at exist (a fresh volume or host directory may be empty),
# then run the command as PID 1's child (compose sets `init: true`, so signals and zombies are handled).
set -e
for dir in "${BUGTRAIL_DATA_DIR:-}" "${BUGTRAIL_CLONE_CACHE_DIR:-}" "${TMPDIR:-}"; do
    if [ -n "$dir" ] && [ ! -d "$dir" ]; then
        mkdir -p "$dir"
    fi
done
exec "$@"
