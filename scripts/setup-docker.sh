#!/usr/bin/env bash
# Idempotent: make sure Debian's docker.io (plus debootstrap, patch, git, docker-registry) is installed
# and a Docker daemon answers. The daemon runs without the default bridge and without touching iptables: QA
# containers use --network none, and these machines allow no other networking anyway.
#
# Env: BUGTRAIL_DOCKERD_LOG (default /var/log/bugtrail-dockerd.log), BUGTRAIL_DOCKERD_WAIT_S (default 60).
set -euo pipefail

log_file="${BUGTRAIL_DOCKERD_LOG:-/var/log/bugtrail-dockerd.log}"
wait_s="${BUGTRAIL_DOCKERD_WAIT_S:-60}"

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v patch >/dev/null 2>&1 || missing+=(patch)
command -v git >/dev/null 2>&1 || missing+=(git)
# A local registry for the shared environment image cache test (BUGTRAIL_IMAGE_REGISTRY); the tests start it.
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-docker: installing ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if docker info >/dev/null 2>&1; then
    echo "setup-docker: daemon already answering"
    exit 0
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "setup-docker: starting dockerd (log: $log_file)"
    mkdir -p "$(dirname "$log_file")"
    # setsid + nohup: the daemon outlives this script and the CI step that ran it.
    sudo_if_needed setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false \
        >>"$log_file" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$((wait_s * 2))"); do
    if docker info >/dev/null 2>&1; then
        echo "setup-docker: daemon ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        exit 0
    fi
    sleep 0.5
done
echo "setup-docker: dockerd did not answer within ${wait_s}s; last log lines:" >&2
tail -n 30 "$log_file" >&2 || true
exit 1
