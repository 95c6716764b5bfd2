"""Dashboard over HTTP (no browser): login cookie flags, CSRF, roles, escaping of untrusted trace content."""

from __future__ import annotations

import re

from tests.support.seed import add_error_trace, add_job, add_trace, qa_document

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _login(client, key: str):
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post("/dashboard/login", data={"api_key": key, "csrf_token": token}, follow_redirects=False)


def test_anonymous_is_sent_to_login(client):
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"


def test_login_sets_a_strict_httponly_cookie_and_shows_overview(client, keys, database):
    with database.scope() as s:
        trace_id = add_trace(s, index=0, developer_id="alice")
        add_trace(s, index=1, developer_id="bob", tests_passed=False, resolved=False, reasoning_score=1.2)
        add_job(s, trace_id, state="queued")
    response = _login(client, keys.raw["reviewer"])
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "bugtrail_dashboard=" in v
    )
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and "Path=/dashboard" in cookie
    )
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'id="total-traces">2<' in page.text
    assert 'id="pass-rate">50.0%<' in page.text and 'id="queue-length">1<' in page.text
    assert "tests failing after the fix" in page.text


def test_developer_key_cannot_log_in_and_bad_csrf_is_refused(client, keys):
    response = _login(client, keys.raw["alice"])
    assert response.status_code == 403 and "bugtrail_dashboard=" not in response.headers.get("set-cookie", "")
    assert _login(client, "btk_wrong").status_code == 401
    client.get("/dashboard/login")
    forged = client.post(
        "/dashboard/login",
        data={"api_key": keys.raw["admin"], "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 401 and "another site" in forged.text
    cross = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', cross.text).group(1)
    other_origin = client.post(
        "/dashboard/login",
        data={"api_key": keys.raw["admin"], "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert other_origin.status_code == 401


def test_trace_page_escapes_untrusted_content(client, keys, database):
    events = [
        ("reasoning", {"text": XSS, "reasoning_type": "hypothesis", "confidence": "low"}),
        ("command", {"command": f"echo '{XSS}'", "output": XSS, "exit_code": 0}),
        ("edit", {"file": "a.py", "diff": f"--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-old\n+{XSS}\n"}),
    ]
    with database.scope() as s:
        trace_id = add_trace(
            s,
            developer_id=XSS,
            bug_description=XSS,
            events=events,
            tests_passed=False,
            repo_url="https://github.com/x/<b>y</b>",
        )
    _login(client, keys.raw["admin"])
    page = client.get(f"/dashboard/traces/{trace_id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    overview = client.get("/dashboard")
    assert "<script>alert" not in overview.text and "<b>y</b>" not in overview.text


def test_logout_clears_the_session(client, keys):
    _login(client, keys.raw["admin"])
    page = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_static_files_are_served_from_a_fixed_listing(client):
    assert client.get("/dashboard/static/chart.umd.min.js").status_code == 200
    assert client.get("/dashboard/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/dashboard/static/..%2F..%2Fconfig.py").status_code == 404
    assert client.get("/dashboard/static/routes.py").status_code == 404


def test_environment_error_is_shown_as_such_not_as_a_failed_fix(client, keys, database):
    reason = "test files failed to collect in both runs:\n  tests/test_core.py: No module named 'dateutil'"
    with database.scope() as s:
        trace_id = add_error_trace(
            s,
            index=0,
            error_kind="environment",
            error=reason,
            test_output="E   ModuleNotFoundError: No module named 'dateutil'",
            patch_exact=False,
            flaky=["tests/test_core.py::test_clock"],
        )
    assert _login(client, keys.raw["reviewer"]).status_code == 303
    overview = client.get("/dashboard").text
    assert "error (environment)" in overview and "environment error" in overview
    assert "tests failing after the fix" not in overview
    page = client.get(f"/dashboard/traces/{trace_id}").text
    assert 'id="qa-environment-error"' in page and "the tests could not run" in page
    assert 'id="qa-error-kind">environment<' in page
    assert "No module named &#39;dateutil&#39;" in page  # the reason, escaped
    assert 'id="qa-patch-exact">no (fuzzy apply)<' in page
    assert "tests/test_core.py::test_clock" in page  # the flaky list


def _session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    header = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "bugtrail_dashboard=" in v
    )
    return header.split("bugtrail_dashboard=", 1)[1].split(";", 1)[0]


def test_the_cookie_is_an_opaque_session_that_logout_ends_server_side(client, keys, database):
    from fastapi.testclient import TestClient

    from bugtrail.db.models import DashboardSession

    response = _login(client, keys.raw["admin"])
    copied = _session_cookie(response)
    assert keys.raw["admin"] not in copied and len(copied) >= 40
    with database.scope(read_only=True) as s:
        [row] = s.query(DashboardSession).all()
        assert copied not in row.id_hash and row.revoked_at is None  # only a hash is stored
        assert 11.9 * 3600 < (row.expires_at - row.created_at).total_seconds() <= 12 * 3600
    thief = TestClient(client.app, cookies={"bugtrail_dashboard": copied})
    assert thief.get("/dashboard", follow_redirects=False).status_code == 200  # the copy works ...
    page = client.get("/dashboard")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (
        client.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    gone = thief.get("/dashboard", follow_redirects=False)  # ... until the owner logs out
    assert gone.status_code == 303 and gone.headers["location"] == "/dashboard/login"
    with database.scope(read_only=True) as s:
        assert s.query(DashboardSession).one().revoked_at is not None


def test_revoking_the_key_ends_its_sessions_and_sessions_expire(client, keys, database, settings):
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from bugtrail.auth.keys import find_active, revoke
    from bugtrail.db.models import DashboardSession

    reviewer = _session_cookie(_login(client, keys.raw["reviewer"]))
    admin = _session_cookie(_login(client, keys.raw["admin"]))
    as_reviewer = TestClient(client.app, cookies={"bugtrail_dashboard": reviewer})
    as_admin = TestClient(client.app, cookies={"bugtrail_dashboard": admin})
    assert as_reviewer.get("/dashboard", follow_redirects=False).status_code == 200
    with database.scope() as s:
        principal = find_active(s, keys.raw["reviewer"])
        assert principal is not None
        revoke(s, str(principal.key_id))
    assert as_reviewer.get("/dashboard", follow_redirects=False).status_code == 303
    assert as_admin.get("/dashboard", follow_redirects=False).status_code == 200
    with database.scope() as s:  # time passes beyond the session's lifetime
        for row in s.query(DashboardSession):
            row.expires_at = row.created_at - timedelta(seconds=1)
    assert as_admin.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_secure_over_https(app, keys):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as secure_client:
        response = _login(secure_client, keys.raw["admin"])
        assert response.status_code == 303
        header = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and "bugtrail_dashboard=" in v
        )
        assert "Secure" in header and "HttpOnly" in header


def test_trace_page_shows_upstream_match_duplicate_and_checkpoints(client, keys, database):
    bug = "tests/test_calc.py::test_add"
    with database.scope() as s:
        original = add_trace(s, index=0)
        trace_id = add_trace(
            s,
            index=1,
            qa={
                "schema": 3,
                "outcome": "completed",
                "upstream_match": {"commit": "c0ffee" + "0" * 34, "similarity": 0.9731},
                "duplicate_of": original,
                "checkpoints": [
                    {
                        "event_id": "e1",
                        "seq": 3,
                        "edits": 1,
                        "passed": [],
                        "failed": [bug],
                        "fail_to_pass_done": False,
                    },
                    {
                        "event_id": "e2",
                        "seq": 7,
                        "edits": 2,
                        "passed": [bug],
                        "failed": [],
                        "fail_to_pass_done": True,
                    },
                ],
            },
        )
    assert _login(client, keys.raw["reviewer"]).status_code == 303
    page = client.get(f"/dashboard/traces/{trace_id}").text
    assert "c0ffee" + "0" * 34 in page and "(similarity 0.97)" in page
    assert f'href="/dashboard/traces/{original}"' in page
    assert 'id="qa-checkpoints"' in page
    assert "<td>#3</td><td>1</td><td>0</td><td>1</td><td>no</td>" in page
    assert "<td>#7</td><td>2</td><td>1</td><td>0</td><td>yes</td>" in page
    plain = client.get(f"/dashboard/traces/{original}").text
    assert 'id="qa-upstream-match">—<' in plain and 'id="qa-checkpoints"' not in plain


def test_trace_page_names_the_inferred_packages(client, keys, database):
    environment = {
        "source": "default",
        "image": "bugtrail-env:0123456789abcdef",
        "inferred_installed": ["pytest-mock", "six"],
        "inferred_failed": ["no-such-<dist>"],
    }
    with database.scope() as s:
        document = {**qa_document(True, True, 4.0), "environment": environment}
        trace_id = add_trace(s, index=0, qa=document)
    _login(client, keys.raw["admin"])
    page = client.get(f"/dashboard/traces/{trace_id}").text
    assert "inferred and installed: pytest-mock, six" in page
    assert "inferred, not installable: no-such-&lt;dist&gt;" in page
