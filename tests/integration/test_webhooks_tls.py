"""HTTPS deliveries connect to the pinned, checked IP yet verify the certificate for the hostname."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bugtrail.tasks import DELIVERY_KINDS, build_worker
from bugtrail.webhooks import enqueue_event, verify_signature
from bugtrail.webhooks import repository as webhook_repo
from bugtrail.webhooks.service import register_webhook

SECRET = "tls-secret-tls-secret"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def make_certs(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf certificate for `hostname` (openssl CLI)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=bugtrail test CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        f"/CN={hostname}",
    )
    (directory / "ext.cnf").write_text(f"subjectAltName=DNS:{hostname}\n")
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allow_private": ["127.0.0.1"]})


@pytest.fixture
def tls_receiver(tmp_path):
    ca, cert, key = make_certs(tmp_path, "hooks.test")
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            requests.append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(ca))
    yield server.server_address[1], client_context, requests
    server.shutdown()
    server.server_close()


def _deliver(database, settings, url: str, verify) -> tuple[str, str | None]:
    resolver = {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    with database.scope() as s:
        hook = register_webhook(
            s, settings, url, ["qa.completed"], "admin", SECRET, resolver=lambda host, port: resolver[host]
        )
        enqueue_event(s, "qa.completed", {"trace_id": "tls"})
        hook_id = hook.id
    build_worker(
        settings, database, DELIVERY_KINDS, resolver=lambda host, port: resolver[host], verify=verify
    ).run_pending()
    with database.scope(read_only=True) as s:
        [delivery] = webhook_repo.list_deliveries(s, hook_id)
        return delivery.state, delivery.last_error


def test_https_delivery_to_pinned_ip_verifies_the_hostname(database, settings, tls_receiver):
    port, client_context, requests = tls_receiver
    state, error = _deliver(database, settings, f"https://hooks.test:{port}/h", client_context)
    assert (state, error) == ("delivered", None)
    [request] = requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["host"] == f"hooks.test:{port}"
    verify_signature(SECRET, headers["x-bugtrail-signature"], request["body"])


def test_https_certificate_for_another_name_is_refused(database, settings, tls_receiver):
    port, client_context, requests = tls_receiver
    state, error = _deliver(database, settings, f"https://other.test:{port}/h", client_context)
    assert state == "pending" and "ConnectError" in (error or "")  # retried later, never accepted
    assert requests == []
