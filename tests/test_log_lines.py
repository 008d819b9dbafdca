"""One log record, one line: what a log shipper reads from the tap's stderr.

The tap runs as a real process; every line it writes to stderr must be a whole log record
(the SDK's console format starts each record with a timestamp), whatever the vendors send.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import requests

from tap_audience.core.http import body_excerpt, vendor_message
from tap_audience.core.redaction import REDACTOR, one_line
from tap_audience.sandbox import Fault
from tests.helpers import sandbox_config

ROOT = Path(__file__).resolve().parents[1]
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| ")
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def run_cli(config, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "tap_audience", "--config", str(tmp_path / "config.json")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_crlf_html_error_page_is_one_line_naming_its_title(sandbox, tmp_path):
    sandbox.inject(
        Fault.status(502, body=NGINX_502, content_type="text/html", path="/eq-api", first=2)
    )
    process = run_cli(sandbox_config(sandbox, start_date="2026-11-19T00:00:00Z"), tmp_path)
    assert process.returncode == 0, process.stderr
    assert "\r" not in process.stderr
    for line in process.stderr.splitlines():
        assert RECORD_START.match(line), f"not a whole log record: {line!r}"
    retries = [line for line in process.stderr.splitlines() if "retry 1 of" in line]
    assert retries
    assert "HTTP 502 an HTML page titled '502 Bad Gateway'" in retries[0]


def test_a_mid_run_token_refresh_is_logged_once(sandbox, tmp_path):
    sandbox.inject(Fault.expire_tokens(vendor="eq", path=("/eq-api", "/locus"), schedule=[6]))
    config = sandbox_config(sandbox, start_date="2026-11-10T00:00:00Z", max_concurrency=8)
    process = run_cli(config, tmp_path)
    assert process.returncode == 0, process.stderr
    lines = process.stderr.splitlines()
    # Every ATOM and LOCUS request in flight is rejected; each product refreshes and says so once.
    for product in ("atom", "locus"):
        rejected = [line for line in lines if f"EQ rejected the {product} token" in line]
        assert len(rejected) == 1, rejected
    assert [r.path for r in sandbox.requests].count("/eq-auth/prod/refresh") == 2


def test_excerpts_are_short_single_lines():
    assert body_excerpt("line one\r\nline two\n\tthree") == "line one line two three"
    assert body_excerpt("x" * 500).endswith("…") and len(body_excerpt("x" * 500)) == 200
    assert body_excerpt("<!DOCTYPE html><title>Maintenance</title>...") == (
        "an HTML page titled 'Maintenance'"
    )
    assert body_excerpt("<html><body>no title</body></html>") == "an HTML page"
    assert one_line("a\nb\rc\x1bd\u2028e") == "a b c?d e"


def test_a_secret_at_the_excerpt_cut_is_still_masked():
    secret = "d23f0824-128b-4f33-8c5e-0a1b2c3d4e5f"
    REDACTOR.register([secret])
    response = requests.Response()
    response.status_code = 404
    response._content = json.dumps({"message": "x" * 180 + " " + secret}).encode()
    message = vendor_message(response)
    assert "d23f" not in message and "***" in message
