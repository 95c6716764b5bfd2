"""Secret redaction for trace text (commands, command output, reasoning) and flagging for diffs.

Token formats come from Yelp's detect-secrets plugins where their regexes locate the whole secret;
our own patterns cover what it lacks or only detects without a usable span (private key blocks,
JWT signatures, newer token formats, `password=` / `Authorization:` assignments).

Deliberately no entropy heuristics: git shas, UUIDs, hashes and base64 blobs must survive.

Speed: Python's `re` only skips ahead fast for patterns that start with a literal; a detector regex that
starts with a lookbehind, a character class or IGNORECASE costs 20-300 ms per MiB. So every detector has
literal-prefixed finder regexes that locate candidates (~1 ms per MiB each), and its own regex is only
`match`ed there. Scanning runs on UTF-8 bytes so case-insensitive finders can use bytes.lower().
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector

MARKER_PREFIX = "[REDACTED:"
_MARKER = MARKER_PREFIX.encode()

# Values that are references or placeholders, not secrets ($VAR, ${VAR}, <token>, ***, an earlier marker).
_NOT_A_VALUE = r"(?!\[REDACTED:|\$|<|\*{3}|%\(|\{\{)"
_EDGE_L = r"(?<![A-Za-z0-9_\-])"
_EDGE_R = r"(?![A-Za-z0-9_\-])"

Span = tuple[int, int]
_Locate = Callable[[re.Match[bytes]], Span | None]


def _rx(source: str, flags: int = 0) -> re.Pattern[bytes]:
    # Scanning happens on UTF-8 bytes: bytes.lower() is ASCII-only and keeps offsets, unlike str.lower().
    return re.compile(source.encode(), flags)


@dataclass(frozen=True)
class _Detector:
    kind: str
    finders: tuple[re.Pattern[bytes], ...]  # literal-prefixed regexes that locate candidate positions
    pattern: re.Pattern[bytes]  # the full detector, matched at each candidate position (minus `back`)
    lowered: bool = False  # finders run over ASCII-lowercased text (case-insensitive detectors)
    back: int = 0  # how many bytes before the finder's hit a match starts
    locate: _Locate | None = None  # the sub-span to redact; None = not a secret after all
    accept: Callable[[bytes], bool] | None = None  # extra validation of the redacted bytes


def _find(*literals: str) -> tuple[re.Pattern[bytes], ...]:
    """One finder per literal-prefix group: `re` only skips ahead fast when a pattern starts with a
    literal, and it factors a prefix shared by every alternative out of an alternation."""
    return tuple(_rx(group) for group in literals)


def _plugin(*plugins: type) -> re.Pattern[bytes]:
    """Alternation of the detect-secrets plugins' own regexes, each bounded at word edges."""
    parts: list[str] = []
    for plugin in plugins:
        for compiled in plugin.denylist:  # type: ignore[attr-defined]
            inner = compiled.pattern
            if compiled.flags & re.IGNORECASE:
                inner = f"(?i:{inner})"
            parts.append(f"(?:{inner})")
    return _rx(_EDGE_L + "(?:" + "|".join(parts) + ")" + _EDGE_R)


def _either(*patterns: re.Pattern[bytes]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(b"(?:" + p.pattern + b")" for p in patterns))


def _group(name: str) -> _Locate:
    return lambda match: match.span(name)


def _jwt_ok(token: bytes) -> bool:
    return bool(JwtTokenDetector.is_formally_valid(token.decode("ascii")))


def _url_password_span(match: re.Match[bytes]) -> Span | None:
    """`://user:password@` matched by detect-secrets' BasicAuth regex: the span of `password` only."""
    user = match.group(0)[3:].split(b":", 1)[0]
    return match.start() + 3 + len(user) + 1, match.end() - 1


# Assignments: the key name must END with one of these words (so `max_tokens=100`, `token_count: 5`,
# `keyboard=us` are left alone). A bare `key` counts only after a qualifier such as `api_` / `secret-`.
_KEY_WORDS = r"password|passwd|passphrase|pwd|secret|token|key|credentials?"
_KEY_QUALIFIER = _rx(
    r"(?:api|auth|access|private|secret|storage|account|signing|master|encryption|client|x-api)[_\-]?\Z",
    re.IGNORECASE,
)
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
# Closing quotes/brackets of the key may be JSON-escaped (`\"password\": \"x\"` inside a JSON string).
_ASSIGNMENT = _rx(
    r"(?i:" + _KEY_WORDS + r")(?![\w\-])[\\\"'\]]{0,3}"
    r"(?P<sep>[ \t]*(?:=>|:=|=|:(?!//))[ \t]*|[ \t]+)"
    + _NOT_A_VALUE
    + r"""(?:\\?"(?P<dq>[^"\n]{1,400}?)\\?"|'(?P<sq>[^'\n]{1,400})'"""
    + r"""|(?P<bare>[^\s'"`,;&()\[\]{}<>\\]{1,400}))"""
)
_ASSIGNMENT_SHAPE = r"""(?![\w\-])[\\"'\]]{0,3}(?:[ \t]*[=:]|[ \t]+[^\s=:])"""
# Unquoted values that read as code, not secrets: `self.password`, `DEFAULT_PASSWORD`.
_CODE_LIKE = _rx(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_LETTERS_ONLY = _rx(r"[A-Za-z]{1,15}")
_TRIVIAL_VALUES = frozenset(
    {b"true", b"false", b"null", b"none", b"nil", b"undefined", b"required", b"optional"}
)


def _assignment_value_span(match: re.Match[bytes]) -> Span | None:
    """Span of an assignment's value, or None when it reads as prose or code rather than a secret."""
    data = match.string
    name_start = match.start()
    while name_start > 0 and match.start() - name_start < 80 and data[name_start - 1] in _NAME_CHARS:
        name_start -= 1
    prefix = data[name_start : match.start()]
    if data.endswith(_MARKER, 0, match.start() - len(prefix)):
        return None  # the kind inside our own marker, e.g. `[REDACTED:gcp-api-key]=...`
    if match.group(0)[:3].lower() == b"key" and not _KEY_QUALIFIER.search(prefix):
        return None
    separator = match.group("sep")
    if not separator.strip() and not prefix.startswith(b"-"):
        return None  # "the secret ingredient": a bare space only separates a --flag from its value
    for group in ("dq", "sq"):
        quoted = match.group(group)
        if quoted is not None:
            return match.span(group) if quoted.strip() else None
    value = match.group("bare")
    start, end = match.span("bare")
    if data.startswith((b"(", b"["), end) or _CODE_LIKE.fullmatch(value):
        return None  # code: get_password(...), os.environ["X"], self.password, DEFAULT_PASSWORD
    if value.lower() in _TRIVIAL_VALUES or (value.isdigit() and len(value) < 8):
        return None
    if b"=" not in separator:
        # `Password: required.` / "token: expired" is prose; `password=hunter` (env var, CLI) is not.
        trimmed = value.rstrip(b".!?")
        if not trimmed or _LETTERS_ONLY.fullmatch(trimmed):
            return None
        end -= len(value) - len(trimmed)
    return start, end


_DETECTORS: tuple[_Detector, ...] = (
    # Whole PEM/OpenSSH/PGP private key blocks, also JSON-escaped (GCP service-account files use "\n").
    # Without an END line (truncated output) the base64 body is still consumed.
    _Detector(
        "private-key",
        _find("-----BEGIN"),
        _rx(
            r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[A-Za-z0-9+/=\s:,.\\-]{0,20000}?-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
            r"|[A-Za-z0-9+/=\s:,.\\-]*)"
        ),
    ),
    _Detector(
        "aws-access-key-id",
        _find("A(?:3T|BIA|CCA|KIA|SIA)"),
        _rx(_EDGE_L + AWSKeyDetector.denylist[0].pattern + _EDGE_R),
    ),
    # detect-secrets only finds quoted AWS secrets; credentials files and env vars are unquoted.
    _Detector(
        "aws-secret-key",
        _find("aws"),
        _rx(
            r"aws[\w.\-]{0,20}?(?:secret|key|pwd|pw|password|pass|token)[\w\-]{0,20}?[\"']?\s*(?:=|:|=>)\s*"
            r"[\"']?(?P<v>" + _NOT_A_VALUE + r"[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
            re.IGNORECASE,
        ),
        lowered=True,
        locate=_group("v"),
    ),
    # Connection strings keep `AccountKey=` visible; SAS URLs lose their signature.
    _Detector(
        "azure-storage-key",
        _find("AccountKey="),
        _plugin(AzureStorageKeyDetector),
        locate=lambda m: (m.start() + len("AccountKey="), m.end()),
    ),
    _Detector(
        "azure-sas-signature",
        _find("sig="),
        _rx(r"(?<=[?&;])sig=(?P<v>[A-Za-z0-9%+/=]{20,})"),
        locate=_group("v"),
    ),
    _Detector("gcp-api-key", _find("AIza"), _rx(_EDGE_L + r"AIza[0-9A-Za-z_\-]{35}" + _EDGE_R)),
    _Detector("gcp-oauth-token", _find(r"ya29\."), _rx(_EDGE_L + r"ya29\.[0-9A-Za-z_\-]{20,}")),
    _Detector(
        "github-token",
        _find("gh[opusr]_", "github_pat_"),
        _either(_plugin(GitHubTokenDetector), _rx(_EDGE_L + r"github_pat_[A-Za-z0-9_]{60,255}")),
    ),
    _Detector(
        "gitlab-token",
        _find("gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-", "GR1348941"),
        _plugin(GitLabTokenDetector),
    ),
    _Detector(
        "slack-token",
        _find("x(?:ox|app-)", r"hooks\.slack\.com"),
        _either(_plugin(SlackDetector), _rx(_EDGE_L + r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+")),
        lowered=True,
    ),
    _Detector(
        "stripe-key",
        _find("k_(?:live|test)_"),
        _either(_plugin(StripeDetector), _rx(_EDGE_L + r"[sr]k_test_[0-9a-zA-Z]{24,99}" + _EDGE_R)),
        back=1,
    ),
    # Legacy OpenAI keys (detect-secrets) plus project/service/admin keys and Anthropic keys.
    _Detector(
        "openai-key",
        _find("sk-"),
        _either(
            _plugin(OpenAIDetector),
            _rx(
                _EDGE_L + r"sk-(?:(?:proj|svcacct|admin|ant)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{32,})" + _EDGE_R
            ),
        ),
    ),
    _Detector("sendgrid-key", _find(r"SG\."), _plugin(SendGridDetector)),
    _Detector("pypi-token", _find("pypi-"), _plugin(PypiTokenDetector)),
    _Detector("mailchimp-key", _find("-us"), _plugin(MailchimpDetector), back=32),
    _Detector(
        "jwt",
        _find("eyJ"),
        _rx(_EDGE_L + r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*" + _EDGE_R),
        accept=_jwt_ok,
    ),
    # scheme://user:password@host: the detect-secrets BasicAuth regex; only the password is redacted.
    _Detector(
        "url-password", _find("://"), _rx(BasicAuthDetector.denylist[0].pattern), locate=_url_password_span
    ),
    _Detector(
        "authorization",
        _find("authorization", "bearer"),
        _rx(
            r"(?:authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest|bot)\s+)?|bearer\s+)"
            r"(?P<v>" + _NOT_A_VALUE + r"[A-Za-z0-9_\-.~+/=:]{8,})",
            re.IGNORECASE,
        ),
        lowered=True,
        locate=_group("v"),
    ),
    # password=..., "token": "...", --api-key=..., --password hunter2, TOKEN: ... (env, CLI, JSON, YAML).
    _Detector(
        "credential",
        # Finders demand the assignment shape in C, so `tokens`, `key_count`, `parse_key(` cost nothing.
        _find(
            *(
                word + _ASSIGNMENT_SHAPE
                for word in ("pass(?:word|wd|phrase)", "pwd", "secret", "token", "key", "credentials?")
            )
        ),
        _ASSIGNMENT,
        lowered=True,
        locate=_assignment_value_span,
    ),
)


def _candidates(det: _Detector, data: bytes, lowered: bytes) -> Iterator[re.Match[bytes]]:
    haystack = lowered if det.lowered else data
    if len(det.finders) == 1:
        positions: list[int] = [hit.start() for hit in det.finders[0].finditer(haystack)]
    else:
        positions = sorted(hit.start() for finder in det.finders for hit in finder.finditer(haystack))
    for position in positions:
        start = position - det.back
        if start >= 0:
            match = det.pattern.match(data, start)
            if match is not None:
                yield match


def _spans(data: bytes) -> Iterator[tuple[int, int, int, str]]:
    """All candidate secret spans as (start, end, priority, kind) in bytes; lower priority wins."""
    lowered = data.lower()
    for priority, det in enumerate(_DETECTORS):
        for match in _candidates(det, data, lowered):
            span = det.locate(match) if det.locate is not None else match.span()
            if span is None:
                continue
            start, end = span
            while end < len(data) and 0x80 <= data[end] < 0xC0:
                end += 1  # never cut a UTF-8 sequence in half
            if end <= start or data.startswith(_MARKER, start):
                continue
            if det.accept is not None and not det.accept(data[start:end]):
                continue
            yield start, end, priority, det.kind


def _resolve(data: bytes) -> list[tuple[int, int, str]]:
    """Non-overlapping spans in order. Overlaps merge into one span (nothing partly left visible),
    named after the more specific detector (earlier in the table)."""
    kept: list[tuple[int, int, int, str]] = []
    for start, end, priority, kind in sorted(_spans(data)):
        if kept and start < kept[-1][1]:
            k_start, k_end, k_priority, k_kind = kept[-1]
            if priority < k_priority:
                k_priority, k_kind = priority, kind
            kept[-1] = (k_start, max(end, k_end), k_priority, k_kind)
            continue
        kept.append((start, end, priority, kind))
    return [(s, e, k) for s, e, _p, k in kept]


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # lone surrogates (from JSON escapes) survive


_WORDISH = _NAME_CHARS - {ord(".")}
_MAX_PASSES = 4


def _redact_once(data: bytes) -> tuple[bytes, list[str], bool]:
    """One pass: the new bytes, the kinds redacted, and whether another pass is needed. A secret glued to
    another one (`AKIA...-----BEGIN`) fails its edge check until the neighbour becomes a marker, so when
    a redacted span touches a word character the result is scanned again (keeps redaction idempotent)."""
    spans = _resolve(data)
    if not spans:
        return data, [], False
    pieces: list[bytes] = []
    kinds: list[str] = []
    position = 0
    glued = False
    for start, end, kind in spans:
        pieces.append(data[position:start])
        pieces.append(b"%s%s]" % (_MARKER, kind.encode()))
        kinds.append(kind)
        glued = (
            glued
            or (start > 0 and data[start - 1] in _WORDISH)
            or (end < len(data) and data[end] in _WORDISH)
        )
        position = end
    pieces.append(data[position:])
    return b"".join(pieces), kinds, glued


def _redact_all(text: str) -> tuple[str, list[str]]:
    data = _encode(text)
    kinds: list[str] = []
    for _ in range(_MAX_PASSES):
        data, found, again = _redact_once(data)
        kinds.extend(found)
        if not again:
            break
    if not kinds:
        return text, kinds
    return data.decode("utf-8", "surrogatepass"), kinds


def redact_text(text: str) -> tuple[str, int]:
    """Replace secrets with `[REDACTED:<kind>]`; returns the new text and the number of redactions.

    Idempotent: markers are never matched again, so redacting twice changes nothing further.
    """
    redacted, kinds = _redact_all(text)
    return redacted, len(kinds)


def find_secrets(text: str) -> list[str]:
    """Kinds of secret present (sorted, unique). For diffs, which are flagged but never rewritten."""
    return sorted(set(_redact_all(text)[1]))


# Joins many short texts for one scan: per-call overhead dominates short texts (a batch of 100 events cost
# ~7 ms one by one). The boundary holds NUL and newlines, which no detector matches across; a match that
# swallowed it anyway shows as a wrong piece count, and those texts are then redacted one by one.
_BOUNDARY = "\n\x00bugtrail-redaction-boundary\x00\n"


def _redact_joined(texts: Sequence[str]) -> list[str] | None:
    if len(texts) < 2 or any(_BOUNDARY in text for text in texts):
        return None
    redacted, kinds = _redact_all(_BOUNDARY.join(texts))
    if not kinds:
        return list(texts)
    parts = redacted.split(_BOUNDARY)
    return parts if len(parts) == len(texts) else None


def redact_many(texts: Sequence[str]) -> list[tuple[str, int]]:
    """redact_text over many texts, in one scan where possible; same results as one by one."""
    parts = _redact_joined(texts)
    if parts is None:
        return [redact_text(text) for text in texts]
    pairs = zip(parts, texts, strict=True)
    return [(part, part.count(MARKER_PREFIX) - text.count(MARKER_PREFIX)) for part, text in pairs]


_MARKER_KIND = re.compile(re.escape(MARKER_PREFIX) + r"([a-z0-9-]+)\]")


def find_secrets_many(texts: Sequence[str]) -> list[list[str]]:
    """find_secrets over many texts (diffs), in one scan where possible."""
    parts = _redact_joined(texts)
    if parts is None:
        return [find_secrets(text) for text in texts]
    found: list[list[str]] = []
    for part, text in zip(parts, texts, strict=True):
        added = Counter(_MARKER_KIND.findall(part))
        added.subtract(Counter(_MARKER_KIND.findall(text)))
        found.append(sorted(kind for kind, count in added.items() if count > 0))
    return found
