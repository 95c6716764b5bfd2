"""The dashboard in headless Chromium: login, charts drawn (screenshot pixels), trace page, no XSS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bugtrail.db.models import utcnow
from tests.support.png import colour_stats
from tests.support.seed import add_job, add_trace

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def seeded(database):
    now = utcnow()
    ids = {}
    with database.scope() as s:
        for i in range(24):
            ids[f"t{i}"] = add_trace(
                s,
                index=i,
                developer_id=["alice", "bob", "carol"][i % 3],
                repo_url=["https://github.com/ex/calc", "https://github.com/ex/web"][i % 2],
                status=["completed", "completed", "failed", "queued"][i % 4],
                created_at=now - timedelta(days=i % 7, hours=i, minutes=1),
                tests_passed=i % 3 != 0,
                resolved=i % 4 != 0,
                reasoning_score=1 + (i % 5),
            )
        ids["xss"] = add_trace(
            s,
            developer_id="mallory",
            bug_description=XSS,
            created_at=now,
            events=[
                ("reasoning", {"text": XSS, "reasoning_type": "hypothesis", "confidence": "high"}),
                ("command", {"command": "pytest -q", "output": "collected 3 items\n" + XSS, "exit_code": 1}),
                (
                    "edit",
                    {
                        "file": "calc.py",
                        "diff": "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
                        " def add(a, b):\n-    return a - b\n+    return a + b\n",
                    },
                ),
            ],
        )
        add_job(s, ids["t3"], state="queued", created_at=now - timedelta(minutes=42))
        add_job(s, ids["t7"], state="queued", created_at=now - timedelta(minutes=5))
    return ids


def login(page, base: str, key: str) -> None:
    page.goto(f"{base}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("#api_key", key)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/dashboard")


def test_overview_renders_charts(page, live_server, keys, seeded, tmp_path):
    login(page, live_server, keys.raw["reviewer"])
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15_000)
    assert page.inner_text("#total-traces") == "25"
    assert page.inner_text("#queue-length") == "2"
    assert "42 min" in page.inner_text("#oldest-wait")
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    for chart in (
        "chart-per-day",
        "chart-per-status",
        "chart-scores",
        "chart-per-developer",
        "chart-per-repo",
    ):
        canvas = page.locator(f"#{chart}")
        assert canvas.get_attribute("data-rendered") == "1"
        # Pixels actually drawn on the canvas (not transparent) ...
        painted = page.evaluate(
            """(id) => { const c = document.getElementById(id); const d = c.getContext('2d')
                 .getImageData(0, 0, c.width, c.height).data; let n = 0;
                 for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                 return [n, c.width * c.height]; }""",
            chart,
        )
        assert painted[0] > 0.01 * painted[1], f"{chart} looks blank: {painted}"
        # ... and visible in a real screenshot: non-white pixels in several colours.
        differing, total, colours = colour_stats(canvas.screenshot())
        assert differing > 0.02 * total, f"{chart} screenshot is blank"
        assert len(colours) >= 3, f"{chart} screenshot has too few colours"
    assert page.console_errors == []
    # The newest trace is listed first and its link opens the trace page.
    page.locator("#recent-traces tbody tr").first.locator("a").click()
    page.wait_for_url(f"{live_server}/dashboard/traces/{seeded['xss']}")
    assert page.locator("#timeline > li").count() == 3


def test_trace_page_shows_full_timeline_and_verdict_without_xss(page, live_server, keys, seeded, tmp_path):
    login(page, live_server, keys.raw["admin"])
    page.goto(f"{live_server}/dashboard/traces/{seeded['xss']}")
    page.screenshot(path=str(tmp_path / "trace.png"), full_page=True)
    assert page.evaluate("window.__xss") is None
    assert XSS in page.inner_text("#bug-description")  # shown as text
    items = page.locator("#timeline > li")
    assert items.count() == 3
    assert [items.nth(i).get_attribute("data-seq") for i in range(3)] == ["0", "1", "2"]
    assert "confidence: high" in items.nth(0).inner_text() and "hypothesis" in items.nth(0).inner_text()
    output = items.nth(1).locator("pre.output")
    assert not output.is_visible()  # collapsed until opened
    items.nth(1).locator("summary").click()
    assert output.is_visible() and "collected 3 items" in output.inner_text()
    added = page.locator(".diff .add").first
    removed = page.locator(".diff .del").first
    assert added.inner_text().startswith("+    return a + b")
    assert added.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 252, 231)"
    assert removed.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(254, 226, 226)"
    assert page.inner_text("#qa-outcome") == "completed"
    assert "tests/test_calc.py::test_add" in page.inner_text("#tests-fail_to_pass")
    assert "verification" in page.inner_text("#judge-criteria")
    differing, total, _ = colour_stats(page.locator("pre.diff").screenshot(), background=(248, 250, 252))
    assert differing > 0.05 * total
    assert page.console_errors == []


def test_developer_key_is_refused(page, live_server, keys, seeded):
    page.goto(f"{live_server}/dashboard/login")
    page.fill("#api_key", keys.raw["alice"])
    page.click("#login-submit")
    assert "reviewer or admin" in page.inner_text("#login-error")
    page.goto(f"{live_server}/dashboard")
    assert page.url.endswith("/dashboard/login")


def test_a_copied_session_cookie_stops_working_after_logout(page, chromium, live_server, keys, seeded):
    login(page, live_server, keys.raw["reviewer"])
    [cookie] = [c for c in page.context.cookies() if c["name"] == "bugtrail_dashboard"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] != keys.raw["reviewer"]
    thief = chromium.new_context()
    try:
        thief.add_cookies([cookie])
        stolen = thief.new_page()
        stolen.goto(f"{live_server}/dashboard")
        assert stolen.url == f"{live_server}/dashboard"  # the copy works while the session lives
        page.click(".logout button, .logout input[type=submit]")
        page.wait_for_url(f"{live_server}/dashboard/login")
        stolen.goto(f"{live_server}/dashboard")
        assert stolen.url.endswith("/dashboard/login")  # logout ended the session on the server
    finally:
        thief.close()
