from bugtrail.qa.capped import CappedOutput


def test_small_output_is_kept_whole():
    out = CappedOutput(100)
    out.write(b"hello ")
    out.write(b"world")
    assert out.getvalue() == b"hello world" and not out.truncated


def test_large_output_keeps_head_and_tail_with_marker():
    out = CappedOutput(20)
    for i in range(1000):
        out.write(f"{i:04d}\n".encode())
    value = out.getvalue()
    assert out.total == 5000 and out.truncated
    assert value.startswith(b"0000\n0001")
    assert value.endswith(b"0999\n")
    assert b"4980 bytes of output omitted, 5000 in total" in value
    assert len(out.head) + len(out.tail) == 20


def test_one_huge_chunk_is_bounded():
    out = CappedOutput(1000)
    out.write(b"a" * 10_000_000 + b"END")
    assert len(out.tail) == 500 and out.getvalue().endswith(b"END")
