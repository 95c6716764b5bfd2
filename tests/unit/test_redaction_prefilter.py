"""The short-text prefilter of traces/redaction.py: one alternation per haystack must find a candidate
wherever any detector's finder does, or a secret in a short text would be stored in clear."""

from __future__ import annotations

import random

from bugtrail.traces import redaction
from bugtrail.traces.redaction import redact_text

SAMPLES = [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
    "id AKIAIOSFODNN7EXAMPLE here",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "DefaultEndpointsProtocol=https;AccountKey=" + "a" * 88,
    "https://x.blob.core.windows.net/c?sv=2020&sig=abcdefghijklmnopqrstuvwx",
    "key AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "ya29.a0AfH6SMBx1234567890abcdef",
    "ghp_" + "a" * 36,
    "github_pat_" + "b" * 60,
    "glpat-abcdefghijklmnopqrst",
    "GR1348941abcdef",
    "xoxb-1234-5678-abcdef",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "sk_live_" + "c" * 24,
    "sk-proj1234567890abcdefghij",
    "SG.abcdefghijklmnopqrstuv.xyz",
    "pypi-AgEIcHlwaS5vcmc",
    "0123456789abcdef0123456789abcdef-us12",
    "npm_" + "d" * 36,
    "hf_" + "e" * 34,
    "SK0123456789abcdef0123456789abcdef",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.sig",
    '{"auth": "dXNlcjpwYXNzd29yZA=="}',
    "postgres://user:hunter2@db/x",
    "curl -u alice:pa55w0rd https://x",
    "curl --user alice:pa55w0rd https://x",
    "mysql -u root -pS3cret shop",
    "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "Bearer abcdefghijklmnop",
    "export DB_PASS=hunter2x",
    "PWD_X=abc",
    "SECRET_KEY_BASE=a8f7d6e5c4b3a2f1",
    '{"x_token": "tok-9f8e7d6c"}',
    "credentials: abc",
    "API_KEY=abcdef123",
    "client-key: zzz",
    "MASTER_KEY=abc",
]


def _any_finder_hits(data: bytes) -> bool:
    lowered = data.lower()
    return any(
        finder.search(lowered if det.lowered else data)
        for det in redaction._DETECTORS
        for finder in det.finders
    )


def _prefilter_hits(data: bytes) -> bool:
    return bool(redaction._ANY_CASED.search(data) or redaction._ANY_LOWERED.search(data.lower()))


def test_every_finder_sample_is_a_candidate() -> None:
    for text in SAMPLES:
        data = text.encode()
        assert _any_finder_hits(data), text  # the sample exercises a finder
        assert _prefilter_hits(data), text
    assert redact_text(SAMPLES[1])[0] == "id [REDACTED:aws-access-key-id] here"  # through the prefilter


def test_prefilter_agrees_with_the_finders_on_random_short_texts() -> None:
    rng = random.Random(13)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_=:/.\"'\n\t@"
    fragments = [sample[: rng.randint(2, 12)] for sample in SAMPLES]
    for _ in range(3000):
        pieces = [rng.choice(fragments) if rng.random() < 0.3 else rng.choice(alphabet) for _ in range(40)]
        data = "".join(pieces).encode()[: redaction._PREFILTER_MAX_BYTES]
        assert _prefilter_hits(data) == _any_finder_hits(data), data
