"""Secret redaction for command lines, command output and reasoning text; flagging for diffs."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bugtrail.traces.redaction import find_secrets, find_secrets_many, redact_many, redact_text

# Fake but well-formed credentials (the shapes real ones have; none of them is valid anywhere).
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
GITHUB_PAT = "github_pat_11ABCDEFG0" + "x1Y2z3" * 12
GITLAB_TOKEN = "glpat-" + "Ab1_Cd2-Ef3Gh4Ij5Kl6"
SLACK_TOKEN = "xoxb-123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI_KEY = "sk-proj-" + "Ab3_Cd4-Ef5Gh6Ij7Kl8Mn9Op0Qr1St2Uv3"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PEM_BODY = "MIIEpAIBAAKCAQEA75ZfJtuyUDsYrWBbUsxiGg6fRhrAqxPiFNFXQ8yZ9cPVndwh\nq0nd3ZmN7nTRwl0aeuEm4d0tRC/e"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"

SECRETS = [
    # (text, kind, the secret that must disappear, context that must stay)
    (f"export AWS_ACCESS_KEY_ID={AWS_KEY_ID}", "aws-access-key-id", AWS_KEY_ID, "export AWS_ACCESS_KEY_ID="),
    (f"[default]\naws_secret_access_key = {AWS_SECRET}\n", "aws-secret-key", AWS_SECRET, "[default]"),
    (f'"aws_secret": "{AWS_SECRET}"', "aws-secret-key", AWS_SECRET, '"aws_secret": "'),
    (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};EndpointSuffix=x.net",
        "azure-storage-key",
        AZURE_KEY,
        "AccountName=acct;AccountKey=",
    ),
    (
        "GET https://acct.blob.core.windows.net/c/f?sv=2021-08-06&sig=abcdEFGH1234abcdEFGH1234%3D&se=2",
        "azure-sas-signature",
        "abcdEFGH1234abcdEFGH1234%3D",
        "?sv=2021-08-06&sig=",
    ),
    (
        "key=AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v",
        "gcp-api-key",
        "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v",
        "",
    ),
    (f"git push https://x:{GITHUB_TOKEN}@github.com/o/r", "github-token", GITHUB_TOKEN, "@github.com/o/r"),
    (f"GH_TOKEN={GITHUB_PAT} gh pr list", "github-token", GITHUB_PAT, "gh pr list"),
    (f"CI_JOB: using {GITLAB_TOKEN} now", "gitlab-token", GITLAB_TOKEN, "using "),
    (f"slack token {SLACK_TOKEN}", "slack-token", SLACK_TOKEN, "slack token "),
    (f"stripe.api_key = '{STRIPE_KEY}'", "stripe-key", STRIPE_KEY, "stripe.api_key = '"),
    (f"OPENAI_API_KEY={OPENAI_KEY} python run.py", "openai-key", OPENAI_KEY, "python run.py"),
    (f"decoded {JWT} ok", "jwt", JWT, "decoded "),
    (f"$ cat id_rsa\n{PEM}\n$ ls", "private-key", PEM_BODY.split("\n")[0], "$ ls"),
    ("git clone https://alice:s3cr3t-P4ss@git.example.com/r.git", "url-password", "s3cr3t-P4ss", "alice:"),
    ("postgresql://app:hunter2@db.internal:5432/prod", "url-password", "hunter2", "@db.internal:5432/prod"),
    (
        "curl -H 'Authorization: Bearer abcdef0123456789abcdef' https://api.example.com",
        "authorization",
        "abcdef0123456789abcdef",
        "https://api.example.com",
    ),
    ("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "authorization", "YWxhZGRpbjpvcGVuc2VzYW1l", "Basic "),
    ("mysql -u root --password=Tr0ub4dor -h db", "credential", "Tr0ub4dor", "-h db"),
    ("mysql -u root --password Tr0ub4dor&3 -h db", "credential", "Tr0ub4dor", "-h db"),
    ("DB_PASSWORD=hunter -- from .env", "credential", "hunter", "DB_PASSWORD="),
    ('{"password": "correct horse battery"}', "credential", "correct horse battery", '{"password": "'),
    ("api_token: 9f8e7d6c5b4a", "credential", "9f8e7d6c5b4a", "api_token: "),
    ("X-API-Key: k3y-Value-123", "credential", "k3y-Value-123", "X-API-Key: "),
    ("client_secret='s3cr3t value'", "credential", "s3cr3t value", "client_secret='"),
    ('{"cmd": "echo {\\"password\\": \\"hunter2\\"}"}', "credential", "hunter2", '{\\"password\\": \\"'),
]


@pytest.mark.parametrize(("text", "kind", "secret", "context"), SECRETS, ids=[s[1] for s in SECRETS])
def test_each_secret_kind_is_redacted_with_a_count(text: str, kind: str, secret: str, context: str) -> None:
    redacted, count = redact_text(text)
    assert count == 1, redacted
    assert f"[REDACTED:{kind}]" in redacted
    assert secret not in redacted
    assert context in redacted
    assert find_secrets(text) == [kind]


def test_url_password_keeps_user_and_host() -> None:
    redacted, count = redact_text("remote: https://deploy:pa55w0rd@example.com:8443/repo.git (fetch)")
    assert (redacted, count) == (
        "remote: https://deploy:[REDACTED:url-password]@example.com:8443/repo.git (fetch)",
        1,
    )


def test_private_key_block_is_removed_entirely_including_truncated_ones() -> None:
    redacted, count = redact_text(f"before\n{PEM}\nafter")
    assert (redacted, count) == ("before\n[REDACTED:private-key]\nafter", 1)
    # Output truncated (head+tail) before the END line: the body is still removed.
    truncated, count = redact_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n")
    assert count == 1 and "MIIEpAIB" not in truncated and truncated.startswith("[REDACTED:private-key]")


def test_gcp_service_account_private_key_in_json() -> None:
    account = {
        "type": "service_account",
        "client_email": "bot@proj.iam.gserviceaccount.com",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\n",
    }
    text = json.dumps(account)  # the key's newlines become literal "\n" escapes
    redacted, count = redact_text(text)
    assert count == 1
    assert "MIIEpAIB" not in redacted and "BEGIN PRIVATE KEY" not in redacted
    assert json.loads(redacted)["client_email"] == "bot@proj.iam.gserviceaccount.com"
    assert find_secrets(text) == ["private-key"]


def test_counts_every_secret_and_leaves_text_between_them() -> None:
    text = f"a={AWS_KEY_ID} b={GITHUB_TOKEN}\nc https://u:p4ss@h/ d\n{JWT}\n"
    redacted, count = redact_text(text)
    assert count == 4
    assert redacted == (
        "a=[REDACTED:aws-access-key-id] b=[REDACTED:github-token]\n"
        "c https://u:[REDACTED:url-password]@h/ d\n[REDACTED:jwt]\n"
    )
    assert find_secrets(text) == ["aws-access-key-id", "github-token", "jwt", "url-password"]


def test_a_token_inside_an_assignment_is_redacted_once_under_its_specific_kind() -> None:
    redacted, count = redact_text(f'GITHUB_TOKEN="{GITHUB_TOKEN}"\nAuthorization: token {GITHUB_TOKEN}')
    assert count == 2
    assert redacted == 'GITHUB_TOKEN="[REDACTED:github-token]"\nAuthorization: token [REDACTED:github-token]'


INNOCUOUS = [
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39\nMerge: 1a2b3c4 5d6e7f8",
    f"request 123e4567-e89b-12d3-a456-426614174000 took 12ms; {uuid.uuid5(uuid.NAMESPACE_DNS, 'x')}",
    f"sha256:{hashlib.sha256(b'bugtrail').hexdigest()}  md5 {hashlib.md5(b'x').hexdigest()}",
    f"data: {base64.b64encode(b'small payload 123').decode()} {base64.b64encode(bytes(range(48))).decode()}",
    "see https://github.com/org/repo/blob/main/x.py and ssh://git@github.com/o/r.git and http://localhost:8000/a?b=c",
    "https://user@example.com/path and https://example.com:8443/path#frag",
    "def check_password(password: str) -> bool:\n    return hmac.compare_digest(hash(password), stored)\n",
    "password = get_password()\ntoken = tokenizer.next_token()\nsecret_name: str = 'db'",
    "secret_key = os.environ['SECRET_KEY']; password = self.password; def f(password=DEFAULT_PASSWORD):",
    "password: Optional[str] = None; docker login -u bot --password-stdin; --token-file /run/tok",
    "max_tokens=100 token_count: 5 tokens = tokenize(x) keyboard=us monkey=banana key_id=7",
    "The token: it expired, so the secret ingredient was a fresh login. Password: required.",
    "export PASSWORD=$DB_PASSWORD && curl -H 'Authorization: Bearer ${API_TOKEN}' -u user: https://x",
    "password=[REDACTED:credential] and https://u:[REDACTED:url-password]@h/",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    "eyJhbGciOi.notjson.atall and task-runner-sk-learn-compatible-estimator-wrapper",
    "Ошибка: файл не найден — 文件未找到 ✓ 🚀 key: значение",
    "",
]


@pytest.mark.parametrize("text", INNOCUOUS)
def test_innocuous_text_is_unchanged(text: str) -> None:
    assert redact_text(text) == (text, 0)
    assert find_secrets(text) == []


@pytest.mark.parametrize("text", [s[0] for s in SECRETS], ids=[s[1] for s in SECRETS])
def test_redaction_is_idempotent(text: str) -> None:
    once, count = redact_text(text)
    assert count >= 1
    assert redact_text(once) == (once, 0)
    assert find_secrets(once) == []


@pytest.mark.parametrize(
    "text",
    [
        f"export AWS_ACCESS_KEY_ID={AWS_KEY_ID}-----BEGIN RSA PRIVATE KEY-----",  # glued: edge check
        "key=AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v=export x",  # a marker's kind is not a key name
        f"slack token {SLACK_TOKEN}DB_PASSWORD=hunter -- from .env",  # rejected match hides nothing
    ],
)
def test_redaction_is_idempotent_for_glued_secrets(text: str) -> None:
    once, count = redact_text(text)
    assert count >= 1
    assert redact_text(once) == (once, 0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([s[0] for s in SECRETS] + INNOCUOUS) | st.text(max_size=40),
        max_size=6,
    ).map(" ".join)
)
def test_redaction_is_idempotent_on_mixed_text(text: str) -> None:
    once, _ = redact_text(text)
    assert redact_text(once) == (once, 0)


_PIECES = (
    [s[0] for s in SECRETS] + INNOCUOUS + [PEM_BODY, "-----BEGIN RSA PRIVATE KEY-----", "[REDACTED:jwt]"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([" ", "\n", ""]),
            st.lists(st.sampled_from(_PIECES) | st.text(max_size=40), max_size=4),
        ).map(lambda sep_parts: sep_parts[0].join(sep_parts[1])),
        max_size=8,
    )
)
def test_batch_redaction_equals_one_by_one(texts: list[str]) -> None:
    # The ingestion path redacts a whole batch in one scan; it must agree with redacting each text.
    assert redact_many(texts) == [redact_text(text) for text in texts]
    assert find_secrets_many(texts) == [find_secrets(text) for text in texts]


def test_batch_redaction_falls_back_when_a_secret_spans_texts() -> None:
    texts = ["-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY, "the next text", f"key {AWS_KEY_ID}"]
    assert redact_many(texts) == [redact_text(text) for text in texts]


def test_non_ascii_text_around_secrets_is_preserved() -> None:
    text = f"Привет 👋 İstanbul пароль: password=тайна123 ключ {AWS_KEY_ID} 完成 \ud800 end"  # noqa: RUF001
    redacted, count = redact_text(text)
    assert count == 2
    assert redacted == (
        "Привет 👋 İstanbul пароль: password=[REDACTED:credential] "
        "ключ [REDACTED:aws-access-key-id] 完成 \ud800 end"
    )


def test_find_secrets_flags_a_diff_without_changing_it() -> None:
    diff = (
        "--- a/settings.py\n+++ b/settings.py\n@@ -1,2 +1,2 @@\n"
        f"-API_KEY = None\n+API_KEY = '{STRIPE_KEY}'\n context = 1\n"
    )
    original = diff
    assert find_secrets(diff) == ["stripe-key"]
    assert diff == original
    assert find_secrets("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n") == []


def test_large_output_with_secrets_at_both_ends() -> None:
    filler = "ok: test_module.py::test_case PASSED [ 42%] 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39\n" * 12000
    text = f"{GITHUB_TOKEN}\n{filler}{AWS_KEY_ID}"
    assert len(text) > 1_000_000
    redacted, count = redact_text(text)
    assert count == 2
    assert redacted == f"[REDACTED:github-token]\n{filler}[REDACTED:aws-access-key-id]"
