"""The recorded shell's stream handling: markers split from output, interactive programs, terminal text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.sdk.shell import MarkerParser, as_shown, interactive_program
from bugtrail.sdk.shell_hooks import prepare, unescape

START = b"\x1b]133;BTabc;S;ls | wc -l;/tmp/x\\\\y\x07"
END = b"\x1b]133;BTabc;E;0\x07"


def _feed_all(parser: MarkerParser, chunks: list[bytes]) -> list[tuple[str, object]]:
    items = [item for chunk in chunks for item in parser.feed(chunk)]
    merged: list[tuple[str, object]] = []
    for kind, value in items:  # adjacent output pieces are one piece for the assertions
        if kind == "out" and merged and merged[-1][0] == "out":
            merged[-1] = ("out", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged


def test_markers_are_taken_out_of_the_stream_wherever_reads_split_them() -> None:
    stream = b"$ ls\r\n" + START + b"3\r\n" + END + b"$ "
    expected = [
        ("out", b"$ ls\r\n"),
        ("marker", [b"S", b"ls | wc -l", b"/tmp/x\\\\y"]),
        ("out", b"3\r\n"),
        ("marker", [b"E", b"0"]),
        ("out", b"$ "),
    ]
    for size in (1, 2, 3, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert _feed_all(MarkerParser(b"abc"), chunks) == expected, size


def test_a_marker_with_another_nonce_is_ordinary_output() -> None:
    fake = b"\x1b]133;BTzzz;E;0\x07"
    assert _feed_all(MarkerParser(b"abc"), [fake]) == [("out", fake)]


def test_fields_are_unescaped() -> None:
    assert unescape(b"a\\\\b\\nc\\e[0m\\a\\:x") == "a\\b\nc\x1b[0m\a;x"


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("vi notes.txt", "vi"),
        ("EDITOR=x vim -p a b", "vim"),
        ("sudo less /var/log/syslog", "less"),
        ("python3", "python3"),
        ("python3.12", "python3.12"),
        ("python -m pytest", None),
        ("git log | less", None),  # decided by the alternate screen instead
        ("ls -l", None),
        ("echo 'unbalanced", None),
    ],
)
def test_interactive_programs_are_known_by_name(command: str, program: str | None) -> None:
    assert interactive_program(command) == program


def test_text_is_what_the_terminal_showed() -> None:
    assert as_shown("10%\r55%\r100%\r\ndone\r\n") == "100%\ndone\n"
    assert as_shown("ok\r\n%" + " " * 79 + "\r \r") == "ok\n"


def test_only_bash_and_zsh_are_offered(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="supports bash and zsh"):
        prepare("/usr/bin/fish", tmp_path)
    argv, env = prepare("/bin/zsh", tmp_path / "z")
    assert argv == ["/bin/zsh", "-i"] and (tmp_path / "z" / "zsh" / ".zshrc").is_file()
    assert env["ZDOTDIR"] == str(tmp_path / "z" / "zsh")
