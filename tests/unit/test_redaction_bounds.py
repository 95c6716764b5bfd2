"""Redaction is linear in its input (issue 10): 1 MiB of pathological text per pattern, each under 0.5 s
of CPU; and the formats added with it (npm, Hugging Face, Twilio, docker auth, curl -u, mysql -p, ...)."""

from __future__ import annotations

import time

import pytest

from bugtrail.traces.redaction import find_secrets, redact_text

MIB = 1 << 20
LIMIT_CPU_S = 0.5

# A prefix of (or the syntax in front of) what each detector looks for, ours and detect-secrets' alike.
PREFIXES = [
    "-----BEGIN PRIVATE KEY-----\n",  # 92 s per MiB before (the fallback rescanned from every BEGIN)
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN ",
    "AKIA",
    "aws_secret_access_key = ",
    "aws",
    "AccountKey=",
    "?sig=",
    "AIza",
    "ya29.",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-1-",
    "hooks.slack.com/services/T",
    "sk_live_",
    "sk-",
    "sk-proj-",
    "SG.",
    "pypi-AgEIcHlwaS5vcmc",
    "a-us",
    "npm_",
    "hf_",
    "SK",
    "AC",
    "eyJ",
    "eyJa.eyJ",
    '"auth": "',
    "://",
    "https://u:p",
    "curl -u ",
    "--user a:",
    "mysql -p",
    "Authorization: Bearer ",
    "bearer ",
    "password=",
    "password: ",
    '"password": "',
    "--password ",
    "DB_PASS=",
    "x_token: ",
    "api_key=",
    "key=",
    "SECRET_KEY_BASE=",
]
RUNS = ["a", "A", "0", "-", " ", "=", "/", "\\"]


def _shapes(prefix: str) -> list[tuple[str, str]]:
    return [
        ("repeated", prefix * (MIB // len(prefix))),
        # near misses: the prefix followed by too little of a token, over and over
        ("near-miss", (prefix + "aB3-" * 4 + " ") * (MIB // (len(prefix) + 17))),
        *((f"run {run!r}", prefix + run * MIB) for run in RUNS),
    ]


CASES = [(f"{prefix!r} {shape}", text) for prefix in PREFIXES for shape, text in _shapes(prefix)]
CASES += [(f"run {run!r}", run * MIB) for run in [*RUNS, "a-", "a ", "a.", "\n"]]


def _cpu_seconds(text: str) -> float:
    started = time.process_time()  # CPU time: other processes on a busy CI runner do not count
    redacted, _count = redact_text(text)
    assert len(redacted) > 0
    return time.process_time() - started


@pytest.mark.parametrize("text", [text for _, text in CASES], ids=[name for name, _ in CASES])
def test_redaction_is_linear_on_pathological_input(text: str) -> None:
    elapsed = _cpu_seconds(text)
    if elapsed < LIMIT_CPU_S:
        return
    # Over the budget: a loaded machine slows even CPU time (caches, frequency). Linear time still shows as
    # about 8x the CPU of an eighth of the input; the super-linear patterns this guards against gave 60x+.
    eighth = _cpu_seconds(text[: len(text) // 8])
    assert elapsed < 6 * LIMIT_CPU_S and elapsed < 20 * max(eighth, 1e-3), (
        f"{elapsed:.2f} s of CPU for 1 MiB, {eighth:.3f} s for 128 KiB: not linear"
    )


NPM = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
HF = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567"
TWILIO_SK = "SK" + "0123456789abcdef0123456789abcdef"
TWILIO_AC = "AC" + "fedcba9876543210fedcba9876543210"
DOCKER = "dXNlcjpzM2NyZXQtcGFzc3dvcmQ="
FOUND = [
    (f"//registry.npmjs.org/:_authToken={NPM}", NPM, "npm-token"),
    (f"HF_TOKEN is {HF} here", HF, "huggingface-token"),
    (f"twilio api key {TWILIO_SK}", TWILIO_SK, "twilio-key"),
    (f"account {TWILIO_AC}.", TWILIO_AC, "twilio-key"),
    ('{"auths": {"ghcr.io": {"auth": "' + DOCKER + '"}}}', DOCKER, "docker-auth"),
    ("curl -u alice:pa55w0rd-x https://api.example.com", "pa55w0rd-x", "curl-user"),
    ("curl --user alice:pa55w0rd-y https://api.example.com", "pa55w0rd-y", "curl-user"),
    ("mysql -h db -u root -pS3cretPw! shop", "S3cretPw!", "mysql-password"),
    ("mysqldump -u root -p'two words' shop", "two words", "mysql-password"),
    ("mysql --password=hunter2x shop", "hunter2x", "credential"),
    ("export DB_PASS=hunter2x", "hunter2x", "credential"),
    ("DB_PASS=hunter2y ./run", "hunter2y", "credential"),
    ('{"x_token": "tok-9f8e7d6c"}', "tok-9f8e7d6c", "credential"),
    ("db_password: letmein", "letmein", "credential"),
    ("GITHUB_TOKEN_V2=abc123def456ghi", "abc123def456ghi", "credential"),
    ("SECRET_KEY_BASE=a8f7d6e5c4b3a2f1", "a8f7d6e5c4b3a2f1", "credential"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "authorization"),
    ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl", "authorization"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), FOUND, ids=[kind + ":" + t[:20] for t, _, kind in FOUND])
def test_added_formats_are_redacted(text: str, secret: str, kind: str) -> None:
    redacted, count = redact_text(text)
    assert secret not in redacted, redacted
    assert f"[REDACTED:{kind}]" in redacted, redacted
    assert count >= 1
    assert redact_text(redacted) == (redacted, 0)  # idempotent


KEPT = [
    "mkdir -p /tmp/build && ssh -p2222 host",
    "python -m pytest -p no:cacheprovider -q",
    "docker run -u 1000:1000 image",
    "max_tokens=100 token_count: 5 keyboard=us",
    "TOKEN_URL=https://auth.example.com/token",
    "PASSWORD_FILE=/run/secrets/db",
    "bypass=true compass: north",
    "password=changeme token=<your-token> secret=${SECRET}",
    "Password: required.",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
]


@pytest.mark.parametrize("text", KEPT)
def test_lookalikes_are_kept(text: str) -> None:
    assert redact_text(text) == (text, 0)
    assert find_secrets(text) == []
