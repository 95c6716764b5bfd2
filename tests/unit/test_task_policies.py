"""Task policies from settings: queue settings drive every kind; the dispatcher's old names still work."""

from __future__ import annotations

import logging

import pytest

from bugtrail.config import Settings
from bugtrail.qa.tasks import qa_policy
from bugtrail.tasks import build_registry
from bugtrail.webhooks.tasks import delivery_policy, receiver_key


def test_both_kinds_take_their_backoff_from_the_queue_settings() -> None:
    settings = Settings(job_retry_base_s=2, job_retry_max_s=30, job_lease_s=120, webhook_timeout_s=20)
    qa, hooks = qa_policy(settings), delivery_policy(settings)
    assert (qa.retry_base_s, qa.retry_max_s, qa.lease_s, qa.concurrency) == (2, 30, 120, 1)
    assert (hooks.retry_base_s, hooks.retry_max_s) == (2, 30)
    assert hooks.lease_s == 60  # three deadlines: a killed sender's delivery is retried soon
    assert (hooks.concurrency, hooks.per_key_limit, hooks.max_attempts) == (4, 2, 8)
    assert build_registry().names() == ("qa.run", "webhook.deliver")


def test_deprecated_webhook_settings_still_apply_and_warn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_RETRY_BASE_S", "0.5")
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_RETRY_MAX_S", "7")
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_POLL_S", "3")
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_LEASE_S", "90")
    with caplog.at_level(logging.WARNING):
        policy = delivery_policy(Settings())
    assert (policy.retry_base_s, policy.retry_max_s) == (0.5, 7)
    warned = caplog.text
    for name in ("WEBHOOK_RETRY_BASE_S", "WEBHOOK_RETRY_MAX_S", "WEBHOOK_POLL_S", "WEBHOOK_LEASE_S"):
        assert f"BUGTRAIL_{name} is deprecated" in warned


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Hooks.Example.com/a?b=1", "webhook:https://hooks.example.com:443"),
        ("http://hooks.example.com/x", "webhook:http://hooks.example.com:80"),
        ("http://[::1]:8080/x", "webhook:http://::1:8080"),
    ],
)
def test_deliveries_to_one_receiver_share_a_concurrency_key(url: str, key: str) -> None:
    assert receiver_key(url) == key
