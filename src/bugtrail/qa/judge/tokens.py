"""Token counts without a tokenizer: a documented, deliberately simple estimate.

estimate_tokens(text) = ceil(UTF-8 bytes / 4). English prose and code average about 4 characters per
token for GPT-4o-class tokenizers; counting bytes rather than characters over-estimates non-ASCII text
instead of under-estimating it. tiktoken is not used: its encodings download at runtime.
"""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    if text.isascii():
        return (len(text) + 3) // 4
    return (len(text.encode("utf-8", "replace")) + 3) // 4
