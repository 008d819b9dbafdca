"""A host the tap cannot reach during a sync fails its vendor's partitions within seconds.

Real processes and sockets: an unknown host (`.invalid` never resolves), a closed port (bound,
then closed: nothing listens there) and an https server with a self-signed certificate (made
by the `openssl` CLI). Every case runs with the default retry ladder (8 retries, waits up to
300 s), with which the same syncs took minutes before (an unknown data host 110 s, an unknown
token host 178 s): the bound of 20 s holds with room to spare (they take 2-5 s).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import parse_messages, sandbox_config
from tests.test_airbyte import configured_catalog, source
from tests.test_first_hour import closed_port, error_lines, tap

START = "2026-11-19T00:00:00+00:00"  # 2 windows for each of the sandbox's 3 cameras
BOUND_SECONDS = 20


def unreachable(host: str) -> tuple[str, str]:
    """A base URL nothing answers at, and what the tap should call the problem."""
    if host == "unknown host":
        return "https://nosuch.invalid/api", "unknown host"
    return f"http://127.0.0.1:{closed_port()}/api", "connection refused"


def default_retries(config: dict) -> dict:
    config.pop("max_retries")  # sandbox_config lowers it; the default is what users get
    return config


def angus_failures(stderr: str) -> list[str]:
    """The ERROR line of each failed Angus partition."""
    return [line for line in error_lines(stderr) if "| angus_entities [client_id=" in line]


def assert_angus_failed_alone(process: subprocess.CompletedProcess[str]) -> None:
    """Every Angus partition failed, without a bookmark; the other vendors synced."""
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert "3 partition(s) failed" in error_lines(process.stderr)[-1]
    output = parse_messages(process.stdout)
    assert not output.records["angus_entities"]
    assert output.records["eq_os"]
    assert output.records["locus_hh_segments"]
    partitions = output.final_state["bookmarks"]["angus_entities"]["partitions"]
    assert len(partitions) == 3
    assert all("replication_key_value" not in partition for partition in partitions)


@pytest.mark.parametrize("host", ["unknown host", "closed port"])
@pytest.mark.parametrize("setting", ["angus_api_url", "angus_auth_url"])
def test_an_unreachable_host_fails_its_vendors_partitions_within_seconds(
    sandbox, tmp_path, setting, host
):
    url, problem = unreachable(host)
    config = default_retries(sandbox_config(sandbox, start_date=START, **{setting: url}))
    started = time.monotonic()
    process = tap(config=config, tmp_path=tmp_path)
    assert time.monotonic() - started < BOUND_SECONDS
    assert_angus_failed_alone(process)
    failures = angus_failures(process.stderr)
    assert len(failures) == 3  # one line per camera
    origin = url.removesuffix("/api")
    for line in failures:
        assert f"Angus: cannot connect to {origin} ({problem}" in line
        assert f"{setting} ({url})" in line
    # Never the full ladder; a refused connection gets its short budget.
    assert "retry 1 of 8" not in process.stderr
    assert ("retry 1 of 3" in process.stderr) == (host == "closed port")


@pytest.mark.parametrize("setting", ["angus_api_url", "angus_auth_url"])
def test_partitions_share_one_retry_budget_for_an_unreachable_host(sandbox, tmp_path, setting):
    # One worker makes the order of requests fixed: the first request to the closed port
    # spends the budget, the 5 other windows (2 other cameras) fail at once with its line.
    url, _ = unreachable("closed port")
    config = sandbox_config(sandbox, start_date=START, max_concurrency=1, **{setting: url})
    process = tap(config=default_retries(config), tmp_path=tmp_path)
    assert_angus_failed_alone(process)
    retries = [line for line in process.stderr.splitlines() if "connection refused); retry" in line]
    assert [line.split("; ")[-1][:12] for line in retries] == [
        "retry 1 of 3",
        "retry 2 of 3",
        "retry 3 of 3",
    ]
    reasons = {line.split("window): ", 1)[1] for line in angus_failures(process.stderr)}
    assert len(reasons) == 1  # the same line for every partition
    assert "connection refused, 4 attempts in" in reasons.pop()


def test_an_unreachable_keywarden_stops_the_run_at_start_within_seconds(sandbox, tmp_path):
    # Every EQ token is checked with keywarden before any data moves (as a refused redirect
    # from keywarden does): the run stops, within seconds, naming eq_auth_url.
    url = f"http://127.0.0.1:{closed_port()}/prod"
    config = default_retries(sandbox_config(sandbox, start_date=START, eq_auth_url=url))
    started = time.monotonic()
    process = tap(config=config, tmp_path=tmp_path)
    assert time.monotonic() - started < BOUND_SECONDS
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    last = error_lines(process.stderr)[-1]
    assert "EQ keywarden: cannot connect to" in last
    assert "(connection refused, 4 attempts in" in last
    assert f"eq_auth_url ({url})" in last
    assert '"type":"RECORD"' not in process.stdout


@pytest.mark.parametrize(
    ("host", "failure_type"),
    [("unknown host", "config_error"), ("closed port", "transient_error")],
)
def test_an_unreachable_host_fails_an_airbyte_read_within_seconds(
    sandbox, tmp_path, host, failure_type
):
    url, problem = unreachable(host)
    config = default_retries(sandbox_config(sandbox, start_date=START, angus_api_url=url))
    catalog = configured_catalog(tmp_path, config)
    started = time.monotonic()
    output = source(tmp_path, "read", config=config, catalog=catalog)
    assert time.monotonic() - started < BOUND_SECONDS
    assert output.code == 1
    statuses = output.statuses()
    assert statuses["angus_entities"][-1] == "INCOMPLETE"
    assert all(
        seen[-1] == "COMPLETE" for name, seen in statuses.items() if name != "angus_entities"
    )
    stream_error, _ = output.errors()  # the stream's own, then the read's
    assert stream_error["stream_descriptor"] == {"name": "angus_entities"}
    # An unknown host is the user's to fix; a refused port may be a server that is down.
    assert stream_error["failure_type"] == failure_type
    assert (
        f"Angus: cannot connect to {url.removesuffix('/api')} ({problem}" in stream_error["message"]
    )
    assert f"angus_api_url ({url})" in stream_error["message"]
    assert output.records()["eq_os"]


# --- TLS ------------------------------------------------------------------------------------
@pytest.fixture
def self_signed(tmp_path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a certificate")  # the unit tests remain
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_front(sandbox, self_signed) -> Iterator[str]:
    """`https://127.0.0.1:<port>` in front of the sandbox: TLS ends here with the self-signed
    certificate, and the bytes go on to the sandbox as they are."""
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    backend = urlsplit(sandbox.base_url)
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass  # either side closed
        finally:
            for side in (source, target):
                side.close()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener closed: the test is over
            try:
                secure = context.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError):
                client.close()  # the tap refused the certificate: what most tests want
                continue
            upstream = socket.create_connection((backend.hostname, backend.port))
            threading.Thread(target=pipe, args=(secure, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, secure), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_an_untrusted_certificate_fails_at_once_and_a_ca_bundle_fixes_it(
    sandbox, tmp_path, tls_front, self_signed
):
    url = tls_front + urlsplit(sandbox.credentials()["angus_api_url"]).path
    config = default_retries(sandbox_config(sandbox, start_date=START, angus_api_url=url))
    started = time.monotonic()
    process = tap(config=config, tmp_path=tmp_path)
    assert time.monotonic() - started < BOUND_SECONDS
    assert_angus_failed_alone(process)
    for line in angus_failures(process.stderr):
        assert f"Angus: cannot connect to {tls_front} (TLS certificate not accepted: " in line
        assert "self-signed certificate" in line
        assert f"angus_api_url ({url})" in line
        assert "REQUESTS_CA_BUNDLE" in line
    assert "retry 1 of" not in process.stderr  # permanent: not retried
    # What the line suggests works: trust the certificate, and the same config syncs.
    fixed = tap(config=config, tmp_path=tmp_path, env={"REQUESTS_CA_BUNDLE": str(self_signed[0])})
    assert fixed.returncode == 0, fixed.stderr
    assert parse_messages(fixed.stdout).records["angus_entities"]
