"""Secret redaction for trace text (commands, command output, reasoning) and flagging for diffs.

Token formats come from Yelp's detect-secrets plugins where their regexes locate the whole secret;
our own patterns cover what it lacks or only detects without a usable span (private key blocks,
JWT signatures, newer token formats, `password=` / `Authorization:` assignments).

Deliberately no entropy heuristics: git shas, UUIDs, hashes and base64 blobs must survive.

Speed: Python's `re` only skips ahead fast for patterns that start with a literal; a detector regex that
starts with a lookbehind, a character class or IGNORECASE costs 20-300 ms per MiB. So every detector has
literal-prefixed finder regexes that locate candidates (~1 ms per MiB each), and its own regex is only
`match`ed there. Scanning runs on UTF-8 bytes so case-insensitive finders can use bytes.lower().

Linear time (issue 10): a pattern of 1 MiB (repeated prefixes, near misses, long runs) must cost well
under 0.5 s. So finders check the token's left edge and shape in C (`AKIA(?<![..]AKIA)[0-9A-Z]{16}`), so
a repeated prefix costs no Python per position; quantifiers are bounded or possessive; and a candidate
inside a secret its detector already found is skipped. tests/unit/test_redaction_bounds.py holds the line.
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


# The body of a key block: one possessive run (linear), then the END line is searched inside that run only.
# The old single regex (`body{0,20000}?END|body*`) rescanned the rest of the text from every BEGIN: 92 s/MiB.
_PEM_BODY = _rx(r"[A-Za-z0-9+/=\s:,.\\-]*+")
_PEM_END = _rx(r"-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----")
_PEM_MAX_BYTES = 64 * 1024  # bigger than any real key (RSA 16384 is ~13 KiB in PEM)


def _private_key_span(match: re.Match[bytes]) -> Span | None:
    """BEGIN line .. END line; without an END line (truncated output) the base64 body up to its end."""
    data = match.string
    body = _PEM_BODY.match(data, match.end(), match.end() + _PEM_MAX_BYTES)
    body_end = body.end() if body is not None else match.end()
    end_at = data.find(b"-----END", match.end(), body_end)
    while end_at != -1:
        closing = _PEM_END.match(data, end_at)
        if closing is not None:
            return match.start(), closing.end()
        end_at = data.find(b"-----END", end_at + 1, body_end)
    return match.start(), body_end


# Assignments: the key name must END with one of these words (so `max_tokens=100`, `token_count: 5`,
# `keyboard=us` are left alone). A bare `key` counts only after a qualifier such as `api_` / `secret-`.
_KEY_WORDS = r"password|passwd|passphrase|pass|pwd|secret|token|key|credentials?"
_KEY_QUALIFIER = _rx(
    r"(?:api|auth|access|private|secret|storage|account|signing|master|encryption|client|x-api)[_\-]?\Z",
    re.IGNORECASE,
)
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
# Closing quotes/brackets of the key may be JSON-escaped (`\"password\": \"x\"` inside a JSON string).
# A name may go on after the key word by up to two short segments: GITHUB_TOKEN_V2, SECRET_KEY_BASE.
_NAME_SUFFIX = r"(?:[_\-][A-Za-z0-9]{1,12}){0,2}"
_ASSIGNMENT = _rx(
    r"(?i:" + _KEY_WORDS + r")(?P<suffix>" + _NAME_SUFFIX + r")(?![\w\-])[\\\"'\]]{0,3}"
    r"(?P<sep>[ \t]{0,20}(?:=>|:=|=|:(?!//))[ \t]{0,20}|[ \t]{1,20})"
    + _NOT_A_VALUE
    + r"""(?:\\?"(?P<dq>[^"\n]{1,400}?)\\?"|'(?P<sq>[^'\n]{1,400})'"""
    + r"""|(?P<bare>[^\s'"`,;&()\[\]{}<>\\]{1,400}))"""
)
# The finders also drop, in C, a value that is only the next name (`x_token: x_token: ...`, see
# _is_next_name): 1 MiB of those cost 0.4 s of Python before.
_NEXT_NAME_AHEAD = (
    r"(?![ \t]{0,20}[\w.\-]{0,40}?(?:pass|pwd|secret|token|key|credential)[\w.\-]{0,40}+[=:](?:\s|\Z))"
)
_ASSIGNMENT_SHAPE = (
    r"""(?![\w\-])[\\"'\]]{0,3}(?:[ \t]{0,20}[=:]""" + _NEXT_NAME_AHEAD + r"""|[ \t]{1,20}[^\s=:])"""
)
# Unquoted values that read as code, not secrets: `self.password`, `DEFAULT_PASSWORD`.
_CODE_LIKE = _rx(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_LETTERS_ONLY = _rx(r"[A-Za-z]{1,15}")
_TRIVIAL_VALUES = frozenset(
    {b"true", b"false", b"null", b"none", b"nil", b"undefined", b"required", b"optional"}
)


_NAME_BYTES = bytes(sorted(_NAME_CHARS))
_PLACEHOLDER = _rx(
    r"(?i:x+|\*+|\.+|-+|_+|#+|changeme|change_me|placeholder|redacted|secret|password|token|dummy|example"
    r"|your[_\-]?\w{0,20}|none|empty|null|todo|tbd)"
)
# A bare value that is itself the next assignment's name (`password= token=...`): no value here.
_KEY_WORD = _rx(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)
_ONE_NAME = _rx(r"[\w.\-]{1,80}+[=:]")


def _is_next_name(value: bytes) -> bool:
    return (
        value.endswith((b"=", b":"))
        and _ONE_NAME.fullmatch(value) is not None
        and _KEY_WORD.search(value) is not None
    )


def _name_prefix(data: bytes, at: int) -> bytes:
    """The part of a variable name before the key word at `at` (`DB_` of `DB_PASS`), at most 80 bytes."""
    window = data[max(0, at - 80) : at]
    return window[len(window.rstrip(_NAME_BYTES)) :]


def _looks_secret(value: bytes) -> bool:
    """For names that only contain a key word (TOKEN_URL=, PASSWORD_FILE=): a value, not a path or URL."""
    if len(value) < 8 or b"://" in value or value.startswith((b"/", b"./", b"~", b"$")):
        return False
    return not _LETTERS_ONLY.fullmatch(value)


def _assignment_value_span(match: re.Match[bytes]) -> Span | None:
    """Span of an assignment's value, or None when it reads as prose, code or a placeholder."""
    data = match.string
    prefix = _name_prefix(data, match.start())
    if data.endswith(_MARKER, 0, match.start() - len(prefix)):
        return None  # the kind inside our own marker, e.g. `[REDACTED:gcp-api-key]=...`
    word = match.group(0)[: match.start("suffix") - match.start()].lower()
    if word == b"key" and not _KEY_QUALIFIER.search(prefix):
        return None
    if word == b"pass" and prefix and prefix[-1:] not in (b"_", b"-", b"."):
        return None  # bypass=, compass:, but DB_PASS=, --pass, db.pass
    suffixed = bool(match.group("suffix"))
    separator = match.group("sep")
    if not separator.strip() and not prefix.startswith(b"-"):
        return None  # "the secret ingredient": a bare space only separates a --flag from its value
    for group in ("dq", "sq"):
        quoted = match.group(group)
        if quoted is not None:
            if not quoted.strip() or (len(quoted) <= 32 and _PLACEHOLDER.fullmatch(quoted.strip())):
                return None
            if suffixed and not _looks_secret(quoted):
                return None
            return match.span(group)
    value = match.group("bare")
    start, end = match.span("bare")
    if data.startswith((b"(", b"["), end) or _CODE_LIKE.fullmatch(value):
        return None  # code: get_password(...), os.environ["X"], self.password, DEFAULT_PASSWORD
    if value.lower() in _TRIVIAL_VALUES or (value.isdigit() and len(value) < 8):
        return None
    if (len(value) <= 32 and _PLACEHOLDER.fullmatch(value)) or _is_next_name(value):
        return None
    if suffixed and not _looks_secret(value.rstrip(b".,")):
        return None
    if b"=" not in separator:
        # `Password: required.` / "token: expired" is prose; `password=hunter` (env var, CLI) is not,
        # and neither is YAML's `db_password: hunter` (a compound name is not prose).
        trimmed = value.rstrip(b".!?")
        if not trimmed or (_LETTERS_ONLY.fullmatch(trimmed) and not prefix):
            return None
        end -= len(value) - len(trimmed)
    return start, end


_USERINFO = r"[^:/?#\[\]@!$&'()*+,;=\s]"
_CURL_USER = r"""[ \t=]{0,20}['"]?[^\s:'"]{1,200}+:[^\s'"]"""
_AWS_NAME_WORDS = _rx(r"secret|key|pwd|pw|password|pass|token", re.IGNORECASE)
_LINE_WINDOW = 2000


def _aws_secret_span(match: re.Match[bytes]) -> Span | None:
    return match.span("v") if _AWS_NAME_WORDS.search(match.group("name")) else None


def _on_line_with(data: bytes, at: int, words: tuple[bytes, ...]) -> bool:
    """Whether one of `words` is earlier on the line of `at` (within _LINE_WINDOW bytes); no copies."""
    low = max(0, at - _LINE_WINDOW)
    low = max(low, data.rfind(b"\n", low, at) + 1)
    return any(data.rfind(word, low, at) != -1 for word in words)


def _curl_password_span(match: re.Match[bytes]) -> Span | None:
    """Only on a curl command line: `docker run -u 1000:1000` is a uid, not a credential."""
    if not _on_line_with(match.string, match.start(), (b"curl",)):
        return None
    start, end = match.span("v")
    quote = match.group("q")
    if quote and match.string.endswith(quote, start, end):
        end -= 1
    return (start, end) if end > start else None


def _mysql_password_span(match: re.Match[bytes]) -> Span | None:
    """Only on a mysql-family command line: `mkdir -p`, `ssh -p22`, `pytest -p no:x` are no passwords."""
    if not _on_line_with(match.string, match.start(), (b"mysql", b"mariadb")):
        return None
    return match.span(match.lastindex) if match.lastindex else None


# The left-edge check sits after the literal (`AKIA(?<![...]AKIA)`), so `re` still skips ahead to the literal
# and rejects a candidate inside a longer word in C: repeated prefixes then cost no Python per position.
def _edge_after(literal: str) -> str:
    return f"(?<!{_W}{literal})"


_W = r"[A-Za-z0-9_\-]"

_DETECTORS: tuple[_Detector, ...] = (
    # Whole PEM/OpenSSH/PGP private key blocks, also JSON-escaped (GCP service-account files use "\n").
    # Without an END line (truncated output) the base64 body is still consumed (up to _PEM_MAX_BYTES).
    _Detector(
        "private-key",
        _find(r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY"),
        _rx(r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"),
        locate=_private_key_span,
    ),
    _Detector(
        "aws-access-key-id",
        _find("A" + _edge_after("A") + r"(?:3T[A-Z0-9]|BIA|CCA|KIA|SIA)[0-9A-Z]{16}" + _EDGE_R),
        _rx(_EDGE_L + AWSKeyDetector.denylist[0].pattern + _EDGE_R),
    ),
    # detect-secrets only finds quoted AWS secrets; credentials files and env vars are unquoted.
    # The name is one possessive run checked for a key word afterwards (nested lazy runs were 3 s/MiB).
    _Detector(
        "aws-secret-key",
        _find(r"aws(?<![a-z0-9]aws)[\w.\-]{0,40}+[\"']?[ \t]{0,20}(?:=>|=|:)[ \t]{0,20}[\"']?[a-z0-9/+]{40}"),
        _rx(
            r"aws(?P<name>[\w.\-]{0,40}+)[\"']?[ \t]{0,20}(?:=>|=|:)[ \t]{0,20}"
            r"[\"']?(?P<v>" + _NOT_A_VALUE + r"[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
            re.IGNORECASE,
        ),
        lowered=True,
        locate=_aws_secret_span,
    ),
    # Connection strings keep `AccountKey=` visible; SAS URLs lose their signature.
    _Detector(
        "azure-storage-key",
        _find(r"AccountKey=[a-zA-Z0-9+/=]{88}"),
        _plugin(AzureStorageKeyDetector),
        locate=lambda m: (m.start() + len("AccountKey="), m.end()),
    ),
    _Detector(
        "azure-sas-signature",
        _find(r"sig=(?<=[?&;]sig=)[A-Za-z0-9%+/=]{20}"),
        _rx(r"(?<=[?&;])sig=(?P<v>[A-Za-z0-9%+/=]{20,}+)"),
        locate=_group("v"),
    ),
    _Detector(
        "gcp-api-key",
        _find("AIza" + _edge_after("AIza") + r"[0-9A-Za-z_\-]{35}" + _EDGE_R),
        _rx(_EDGE_L + r"AIza[0-9A-Za-z_\-]{35}" + _EDGE_R),
    ),
    _Detector(
        "gcp-oauth-token",
        _find(r"ya29\." + _edge_after(r"ya29\.") + r"[0-9A-Za-z_\-]{20}"),
        _rx(_EDGE_L + r"ya29\.[0-9A-Za-z_\-]{20,}+"),
    ),
    _Detector(
        "github-token",
        _find(
            r"gh[opusr]_" + _edge_after(r"gh[opusr]_") + r"[A-Za-z0-9_]{36}" + _EDGE_R,
            "github_pat_" + _edge_after("github_pat_") + r"[A-Za-z0-9_]{60}",
        ),
        _either(_plugin(GitHubTokenDetector), _rx(_EDGE_L + r"github_pat_[A-Za-z0-9_]{60,255}+" + _EDGE_R)),
    ),
    _Detector(
        "gitlab-token",
        _find(
            "gl" + _edge_after("gl") + r"(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-",
            "GR1348941" + _edge_after("GR1348941"),
        ),
        _plugin(GitLabTokenDetector),
    ),
    _Detector(
        "slack-token",
        _find(
            r"x(?:ox[abposr]|app)-" + r"(?<![a-z0-9_\-]x(?:ox[abposr]|app)-)\d",
            r"hooks\.slack\.com/services/t",
        ),
        _either(_plugin(SlackDetector), _rx(_EDGE_L + r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+")),
        lowered=True,
    ),
    _Detector(
        "stripe-key",
        _find(
            r"k_(?:live|test)_(?<![A-Za-z0-9_\-][sr]k_(?:live|test)_)(?<=[sr]k_(?:live|test)_)[0-9a-zA-Z]{24}"
        ),
        _either(_plugin(StripeDetector), _rx(_EDGE_L + r"[sr]k_test_[0-9a-zA-Z]{24,99}" + _EDGE_R)),
        back=1,
    ),
    # OpenAI keys (legacy sk-<48>, project/service/admin keys) and Anthropic keys (sk-ant-...).
    # detect-secrets' OpenAI regex backtracks over a whole run (`[..]*[..]{20}T3BlbkFJ`): replaced.
    _Detector(
        "openai-key",
        _find("sk-" + _edge_after("sk-") + r"[A-Za-z0-9_\-]{20}"),
        _rx(
            _EDGE_L
            + r"sk-(?:(?:proj|svcacct|admin|ant)-[A-Za-z0-9_\-]{20,}+|[A-Za-z0-9]{32,}+"
            + r"|[A-Za-z0-9_\-]{0,200}T3BlbkFJ[A-Za-z0-9]{20})"
            + _EDGE_R
        ),
    ),
    _Detector(
        "sendgrid-key",
        _find(r"SG\." + _edge_after(r"SG\.") + r"[a-zA-Z0-9_-]{22}\."),
        _plugin(SendGridDetector),
    ),
    _Detector("pypi-token", _find("pypi-AgE" + _edge_after("pypi-AgE")), _plugin(PypiTokenDetector)),
    _Detector(
        "mailchimp-key",
        _find(r"-us(?<=[0-9a-z]{32}-us)[0-9]{1,2}" + _EDGE_R),
        _plugin(MailchimpDetector),
        back=32,
    ),
    _Detector(
        "npm-token",
        _find("npm_" + _edge_after("npm_") + r"[A-Za-z0-9]{36}" + _EDGE_R),
        _rx(_EDGE_L + r"npm_[A-Za-z0-9]{36}" + _EDGE_R),
    ),
    _Detector(
        "huggingface-token",
        _find("hf_" + _edge_after("hf_") + r"[A-Za-z0-9]{34}"),
        _rx(_EDGE_L + r"hf_[A-Za-z0-9]{34,100}+" + _EDGE_R),
    ),
    # Twilio API key SIDs (SK...) and account SIDs (AC...): 32 lowercase hex digits.
    _Detector(
        "twilio-key",
        _find(
            r"SK" + _edge_after("SK") + r"[0-9a-f]{32}" + _EDGE_R,
            r"AC" + _edge_after("AC") + r"[0-9a-f]{32}" + _EDGE_R,
        ),
        _rx(_EDGE_L + r"(?:SK|AC)[0-9a-f]{32}" + _EDGE_R),
    ),
    _Detector(
        "jwt",
        # The smallest real header ({"alg":"none"}) is 19 base64 characters, a payload ({"a":1}) 10.
        _find("eyJ" + _edge_after("eyJ") + r"[A-Za-z0-9_\-]{10,}+\.eyJ[A-Za-z0-9_\-]{7}"),
        _rx(_EDGE_L + r"eyJ[A-Za-z0-9_\-]{10,}+\.eyJ[A-Za-z0-9_\-]{7,}+\.[A-Za-z0-9_\-]*+" + _EDGE_R),
        accept=_jwt_ok,
    ),
    # ~/.docker/config.json: {"auths": {"registry": {"auth": "<base64 user:password>"}}}
    _Detector(
        "docker-auth",
        _find(r'"auth"[ \t]{0,20}:[ \t]{0,20}"[A-Za-z0-9+/=]{8}'),
        _rx(r'"auth"[ \t]{0,20}:[ \t]{0,20}"(?P<v>[A-Za-z0-9+/=]{8,}+)"'),
        locate=_group("v"),
    ),
    # scheme://user:password@host: the detect-secrets BasicAuth regex; only the password is redacted.
    _Detector(
        "url-password",
        _find(r"://" + _USERINFO + r"++:" + _USERINFO + r"++@"),
        _rx(BasicAuthDetector.denylist[0].pattern),
        locate=_url_password_span,
    ),
    # curl -u user:password / --user user:password / -uuser:password (the password only).
    _Detector(
        "curl-user",
        _find(r"-u(?<=[ \t]-u)" + _CURL_USER, r"--user(?<=[ \t]--user)[ \t=]" + _CURL_USER),
        _rx(r"(?:-u|--user)[ \t=]{0,20}+(?P<q>['\"]?)[^\s:'\"]{1,200}+:(?P<v>[^\s'\"]{1,400}+)"),
        locate=_curl_password_span,
    ),
    # mysql/mariadb -pSECRET (no space: with a space -p prompts for the password).
    _Detector(
        "mysql-password",
        _find(r" -p(?=[^\s\-])"),
        _rx(r"-p(?:'(?P<sq>[^'\n]{1,200}+)'|\"(?P<dq>[^\"\n]{1,200}+)\"|(?P<v>[^\s'\"\-][^\s'\"]{0,200}+))"),
        back=-1,
        locate=_mysql_password_span,
    ),
    _Detector(
        "authorization",
        _find(
            r"authorization[\"']?[ \t]{0,20}[:=]",
            r"bearer[ \t]{1,20}[a-z0-9_\-.~+/=:]{8}",
        ),
        _rx(
            r"(?:authorization[\"']?[ \t]{0,20}[:=][ \t]{0,20}[\"']?"
            r"(?:(?:bearer|basic|token|digest|bot)[ \t]{1,20})?|bearer[ \t]{1,20})"
            r"(?P<v>" + _NOT_A_VALUE + r"[A-Za-z0-9_\-.~+/=:]{8,}+)",
            re.IGNORECASE,
        ),
        lowered=True,
        locate=_group("v"),
    ),
    # password=..., "token": "...", --api-key=..., --password hunter2, TOKEN: ..., DB_PASS=...,
    # GITHUB_TOKEN_V2=... (env, CLI, JSON, YAML).
    _Detector(
        "credential",
        # Finders demand the assignment shape in C, so `tokens`, `key_count`, `parse_key(` cost nothing.
        # A bare `key` needs a qualifier before it (api_key, secret-key): checked here in C too, so text full
        # of `key=` costs no Python per hit; `(?P<at>...)` marks where the pattern is matched.
        _find(
            *(
                word + _NAME_SUFFIX + _ASSIGNMENT_SHAPE
                for word in ("pass(?:word|wd|phrase)?", "pwd", "secret", "token", "credentials?")
            ),
            *(
                qualifier + r"[_\-]?(?P<at>key)" + _NAME_SUFFIX + _ASSIGNMENT_SHAPE
                for qualifier in (
                    "api",
                    "auth",
                    "access",
                    "private",
                    "secret",
                    "storage",
                    "account",
                    "signing",
                    "master",
                    "encryption",
                    "client",
                )
            ),
        ),
        _ASSIGNMENT,
        lowered=True,
        locate=_assignment_value_span,
    ),
)


def _positions(det: _Detector, data: bytes, lowered: bytes) -> list[int]:
    haystack = lowered if det.lowered else data
    if len(det.finders) == 1:
        return [hit.start() for hit in det.finders[0].finditer(haystack)]
    positions: set[int] = set()
    for finder in det.finders:
        group: int | str = "at" if "at" in finder.groupindex else 0
        positions.update(hit.start(group) for hit in finder.finditer(haystack))
    return sorted(positions)


def _any_finder(lowered: bool) -> re.Pattern[bytes]:
    """One alternation of every finder that scans the same haystack: it matches where any of them does
    (named groups become plain ones; no finder uses flags or back-references)."""
    patterns = [
        re.sub(rb"\(\?P<\w+>", b"(?:", finder.pattern)
        for det in _DETECTORS
        if det.lowered == lowered
        for finder in det.finders
    ]
    return re.compile(b"|".join(b"(?:" + pattern + b")" for pattern in patterns))


# Short texts (most command lines, notes and outputs of single events) are first checked by one scan per
# haystack: most hold no candidate at all, and one scan costs a tenth of a Python loop over 25 detectors.
# The alternation costs more per byte than the detectors' literal-prefixed finders, so longer texts skip it.
_PREFILTER_MAX_BYTES = 1024
_ANY_CASED = _any_finder(lowered=False)
_ANY_LOWERED = _any_finder(lowered=True)


def _spans(data: bytes) -> Iterator[tuple[int, int, int, str]]:
    """All candidate secret spans as (start, end, priority, kind) in bytes; lower priority wins.

    Linear time: a candidate inside a secret this detector already found is skipped (1 MiB of repeated
    BEGIN lines would otherwise be rescanned from every line), and every detector regex is bounded by its
    token (edges, bounded or possessive quantifiers), so no candidate scans past the next one's text."""
    lowered = data.lower()
    if (
        len(data) <= _PREFILTER_MAX_BYTES
        and _ANY_CASED.search(data) is None
        and _ANY_LOWERED.search(lowered) is None
    ):
        return
    for priority, det in enumerate(_DETECTORS):
        covered = 0
        for position in _positions(det, data, lowered):
            start = position - det.back
            if start < covered or start < 0:
                continue
            match = det.pattern.match(data, start)
            if match is None:
                continue
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
            covered = max(covered, end, match.end())
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
# Values found after their own syntax (`-p`, `password=`, `AccountKey=`): a word character next to them is
# that syntax, not a neighbouring secret, so they never call for another pass.
_AFTER_SYNTAX = frozenset(
    {
        "aws-secret-key",
        "azure-storage-key",
        "azure-sas-signature",
        "docker-auth",
        "url-password",
        "curl-user",
        "mysql-password",
        "authorization",
        "credential",
    }
)
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
        glued = glued or (
            kind not in _AFTER_SYNTAX
            and ((start > 0 and data[start - 1] in _WORDISH) or (end < len(data) and data[end] in _WORDISH))
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
