"""Per-developer consent and licence: what may be exported, and under which licence (set by an admin)."""
