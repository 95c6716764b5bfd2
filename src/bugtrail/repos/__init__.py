"""Per-repository QA configuration registered by an admin (install commands, Python, test command)."""
