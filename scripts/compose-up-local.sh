#!/usr/bin/env bash
# Build every image locally (no container registry needed) and start the compose deployment.
#
#   scripts/compose-up-local.sh                      # build what is missing/stale, `up -d`, wait for health
#   BUGTRAIL_WORKERS=3 scripts/compose-up-local.sh   # ... with three QA workers
#   scripts/compose-up-local.sh --build-only         # images only (CI warm-up step)
#
# Steps (each is skipped or cached when already done):
#   1. Docker daemon: scripts/setup-docker.sh when present.
#   2. Base + runner images: `bugtrail runner build-image` (debootstrap rootfs -> `docker import` ->
#      bugtrail-debian-base:bookworm -> bugtrail-runner:latest). The workers need the runner image on the host.
#   3. Wheelhouse: the host's pip builds/downloads every dependency wheel into docker/service/wheelhouse/, so the
#      image build installs offline (no proxy, no CA) and a cold build costs no downloads.
#   4. `docker-compose build` (layer cache: dependencies rebuild only when pyproject.toml changes).
#   5. `docker-compose up -d --scale worker=N`, then wait until postgres, api and the workers are healthy.
#
# Env: COMPOSE_PROJECT_NAME, BUGTRAIL_WORKERS (default 1), BUGTRAIL_COMPOSE_FILES (colon-separated; default
# compose.yaml plus docker/compose.host-network.yaml when the daemon has no `bridge` network),
# BUGTRAIL_EXTRA_CA_BUNDLE (PEM trusted inside builds), BUGTRAIL_PYTHON (default python3),
# BUGTRAIL_WAIT_S (default 300), plus everything compose.yaml reads (ports, BUGTRAIL_WORK_DIR, ...).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build_only=0
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=1 ;;
        *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
    esac
done

python="${BUGTRAIL_PYTHON:-python3}"
workers="${BUGTRAIL_WORKERS:-1}"
wait_s="${BUGTRAIL_WAIT_S:-300}"
base_image="${BUGTRAIL_BASE_IMAGE:-bugtrail-debian-base:bookworm}"
runner_image="${BUGTRAIL_RUNNER_IMAGE:-bugtrail-runner:latest}"
wheelhouse="docker/service/wheelhouse"

step() { printf '[compose-up-local %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
bugtrail() { PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" "$python" -m bugtrail "$@"; }
started=$SECONDS

# 1. Docker daemon
if [ -x scripts/setup-docker.sh ]; then
    scripts/setup-docker.sh >&2
fi
docker info >/dev/null

# 2. Base and runner images (one builder, shared with the QA runner: bugtrail.qa.image)
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    # The builder re-imports the base only when it (re)builds the runner image, hence --force here.
    step "building $base_image and $runner_image (bugtrail runner build-image --force)"
    bugtrail runner build-image --tag "$runner_image" --force
elif ! docker image inspect "$runner_image" >/dev/null 2>&1; then
    step "building $runner_image on $base_image (bugtrail runner build-image)"
    bugtrail runner build-image --tag "$runner_image"
fi
docker image inspect "$base_image" >/dev/null 2>&1 || {
    echo "compose-up-local: base image $base_image is missing after the runner build" >&2
    exit 1
}

# Extra CA for builds that reach an HTTPS proxy (empty directory otherwise).
ca_dir="docker/service/ca"
rm -f "$ca_dir/extra-ca.crt"
if [ -n "${BUGTRAIL_EXTRA_CA_BUNDLE:-}" ]; then
    cp "$BUGTRAIL_EXTRA_CA_BUNDLE" "$ca_dir/extra-ca.crt"
fi

# 3. Wheelhouse, keyed by the dependency list and the Python minor version (the image's python3 is 3.11).
requirements="$("$python" - <<'EOF'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = project["dependencies"] + project["optional-dependencies"]["server"]  # as docker/service/Dockerfile
print("\n".join([*deps, "setuptools>=68", "wheel"]))
EOF
)"
stamp="$(printf '%s\n%s\n' "$requirements" "$("$python" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)"
if [ "$(cat "$wheelhouse/.stamp" 2>/dev/null)" != "$stamp" ]; then
    step "filling $wheelhouse from the host's pip"
    find "$wheelhouse" -name '*.whl' -delete
    printf '%s\n' "$requirements" > "$wheelhouse/.requirements.txt"
    "$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$wheelhouse" \
        -r "$wheelhouse/.requirements.txt" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$stamp" > "$wheelhouse/.stamp"
fi
export BUGTRAIL_PIP_OFFLINE=1

# Compose files: host networking when the daemon cannot give containers a bridge network.
if [ -z "${BUGTRAIL_COMPOSE_FILES:-}" ]; then
    BUGTRAIL_COMPOSE_FILES="compose.yaml"
    if ! docker network inspect bridge >/dev/null 2>&1; then
        BUGTRAIL_COMPOSE_FILES="compose.yaml:docker/compose.host-network.yaml"
    fi
fi
compose_args=()
IFS=: read -r -a files <<<"$BUGTRAIL_COMPOSE_FILES"
for file in "${files[@]}"; do compose_args+=(-f "$file"); done

# 4. Images
step "docker-compose build (${BUGTRAIL_COMPOSE_FILES})"
build_started=$SECONDS
docker-compose "${compose_args[@]}" build postgres api
step "images built in $((SECONDS - build_started))s"
if [ "$build_only" = 1 ]; then
    step "done (build only) in $((SECONDS - started))s"
    exit 0
fi

# 5. Up, then wait for health (docker-compose 1.29 has no `up --wait`)
# Workers are not root: they reach the daemon through the socket's group and own the work dir.
socket_path="${BUGTRAIL_DOCKER_SOCKET:-/var/run/docker.sock}"
if [ -z "${BUGTRAIL_DOCKER_GID:-}" ] && [ -S "$socket_path" ]; then
    BUGTRAIL_DOCKER_GID="$(stat -c %g "$socket_path")"
    export BUGTRAIL_DOCKER_GID
fi
work_dir="${BUGTRAIL_WORK_DIR:-/var/lib/bugtrail-work}"
mkdir -p "$work_dir" || echo "warning: cannot create $work_dir; create it, owned by the worker uid" >&2
if [ "$(id -u)" = 0 ]; then
    chown "${BUGTRAIL_WORKER_UID:-10001}:${BUGTRAIL_WORKER_GID:-10001}" "$work_dir"
fi
up_started=$SECONDS
docker-compose "${compose_args[@]}" up -d --no-build --scale worker="$workers"

health_of() {
    local ids
    ids="$(docker-compose "${compose_args[@]}" ps -q "$1")"
    [ -n "$ids" ] || { echo missing; return; }
    # shellcheck disable=SC2086
    docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids \
        | sort -u | paste -sd, -
}
crash_looping() {
    local ids
    ids="$(docker-compose "${compose_args[@]}" ps -q)"
    [ -n "$ids" ] || return 1
    # shellcheck disable=SC2086
    docker inspect --format '{{.RestartCount}}' $ids | awk '$1 >= 2 { found = 1 } END { exit !found }'
}
deadline=$((SECONDS + wait_s))
while :; do
    states="postgres=$(health_of postgres) api=$(health_of api) worker=$(health_of worker)"
    if [ "$states" = "postgres=healthy api=healthy worker=healthy" ]; then
        break
    fi
    if [ $SECONDS -ge $deadline ] || crash_looping; then
        echo "compose-up-local: not healthy (after $((SECONDS - up_started))s): $states" >&2
        docker-compose "${compose_args[@]}" ps >&2 || true
        docker-compose "${compose_args[@]}" logs --tail 40 >&2 || true
        exit 1
    fi
    sleep 1
done
step "healthy in $((SECONDS - up_started))s after up ($((SECONDS - started))s total): $states"
