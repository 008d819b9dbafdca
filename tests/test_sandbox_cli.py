"""`python -m tap_audience.sandbox` as a user meets it: --help, one-line errors, the passcode
line, and `tap-audience eq-login` end to end against the sandbox process."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import jwt
import pytest
import requests

from tap_audience.sandbox import Sandbox
from tests.helpers import ROOT, start_sandbox_process

SANDBOX = [sys.executable, "-m", "tap_audience.sandbox"]
EQ_LOGIN = [sys.executable, "-m", "tap_audience", "eq-login"]
ANALYST = "analyst@eq.example"
PASSCODE_LINE = re.compile(
    r"keywarden: mailed passcode (?P<code>[0-9A-F]{6}) to (?P<user>\S+)"
    r" \(product (?P<product>\w+)\)"
)


def run_sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SANDBOX, *args], capture_output=True, text=True, timeout=30, cwd=ROOT, check=False
    )


class Lines:
    """The rest of a process's stdout, line by line, with a timeout (a reader thread)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._stream = process.stdout
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern.pattern!r}; saw {self.seen}")
            if line is None:
                pytest.fail(f"stdout closed before {pattern.pattern!r}; saw {self.seen}")
            self.seen.append(line)
            if match := pattern.fullmatch(line):
                return match

    def rest(self, timeout: float = 10) -> list[str]:
        """Everything until EOF (call after the process was stopped)."""
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.seen.append(line)
        return self.seen


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGINT, as Ctrl-C; the exit code and stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    err = process.stderr.read() if process.stderr is not None else ""
    return process.returncode, err


@pytest.fixture
def sandbox_process() -> Iterator[tuple[subprocess.Popen[str], dict, Lines]]:
    process, _, config = start_sandbox_process()
    lines = Lines(process)
    try:
        yield process, config, lines
    finally:
        stop(process)


# --- --help ------------------------------------------------------------------------------------
def test_help_says_what_the_sandbox_is_and_every_default() -> None:
    process = run_sandbox("--help")
    assert process.returncode == 0, process.stderr
    text = process.stdout
    flat = " ".join(text.split())
    assert "local emulator" in flat and "tap-audience --config config.json" in flat
    assert "`sandbox: true`" in flat
    assert "tap-audience eq-login --user analyst@eq.example --product atom" in flat
    options = text[text.index("options:") : text.index("The ``--fault SPEC`` grammar")]
    entries = re.split(r"\n  (?=--)", options)[1:]  # one per option, after -h/--help
    names = [entry.split()[0] for entry in entries]
    assert names == [
        "--port", "--host", "--seed", "--now", "--angus-page-size", "--fault", "--quiet",
        "--log-requests",
    ]  # fmt: skip
    for entry in entries:
        assert "(default:" in " ".join(entry.split()), entry
    for default in (
        "(default: 8765)",
        "(default: 127.0.0.1)",
        "(default: 0)",
        "(default: the real current time",
        "(default: 50)",
        "(default: none)",
        "(default: off)",
    ):
        assert default in flat


# --- one readable line per bad input -----------------------------------------------------------
BAD_INPUTS = {
    # id: (arguments, what the line must say)
    "port-not-a-number": (["--port", "abc"], ["argument --port", "'abc'", "0 to 65535"]),
    "port-too-big": (["--port", "70000"], ["argument --port", "'70000'", "--port 0"]),
    "port-negative": (["--port", "-1"], ["argument --port", "'-1'", "0 to 65535"]),
    "port-missing": (["--port"], ["argument --port", "expected one argument"]),
    "now-without-offset": (
        ["--now", "2026-11-20T10:30"],
        [
            "argument --now",
            "'2026-11-20T10:30'",
            "no UTC offset",
            "2026-11-20T10:30:00+00:00 or 2026-11-20T10:30:00Z",
        ],
    ),
    "now-date-only": (["--now", "2026-11-20"], ["argument --now", "2026-11-20T00:00:00+00:00"]),
    "now-unparseable": (
        ["--now", "yesterday"],
        ["argument --now", "'yesterday'", "not an ISO-8601 time", "2026-11-20T10:30:00+00:00"],
    ),
    "now-impossible-date": (
        ["--now", "2026-13-01T00:00Z"],
        ["argument --now", "'2026-13-01T00:00Z'", "month must be in 1..12"],
    ),
    "now-impossible-offset": (
        ["--now", "2026-11-20T10:30+25:00"],
        ["argument --now", "invalid offset", "2026-11-20T10:30:00+00:00"],
    ),
    "now-out-of-range": (
        ["--now", "0001-01-01T00:00Z"],
        ["argument --now", "'0001-01-01T00:00Z'", "out of range", "year 1900"],
    ),
    "seed-not-an-integer": (["--seed", "1.5"], ["argument --seed", "'1.5'", "whole number"]),
    "page-size-zero": (
        ["--angus-page-size", "0"],
        ["argument --angus-page-size", "'0'", "at least 1"],
    ),
    "page-size-not-a-number": (
        ["--angus-page-size", "many"],
        ["argument --angus-page-size", "'many'", "at least 1"],
    ),
    "fault-unknown-kind": (
        ["--fault", "bogus"],
        ["argument --fault", "'bogus'", "unknown fault kind", "--help shows the grammar"],
    ),
    "fault-bad-value": (
        ["--fault", "status=abc"],
        ["argument --fault", "status must be an integer, got 'abc'"],
    ),
    "host-empty": (["--host", ""], ["argument --host", "empty", "--host 127.0.0.1"]),
    "host-unknown": (
        ["--host", "nosuch.invalid", "--port", "0"],
        ["cannot listen on nosuch.invalid:0", "--host 'nosuch.invalid'", "--host 127.0.0.1"],
    ),
    "unknown-option": (["--verbose"], ["unrecognized arguments: --verbose", "--help"]),
}


@pytest.fixture(scope="module")
def bad_input_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """All the failing runs at once (each is a fresh interpreter: ~0.3 s apiece serially)."""
    with ThreadPoolExecutor(max_workers=len(BAD_INPUTS)) as pool:
        futures = {name: pool.submit(run_sandbox, *args) for name, (args, _) in BAD_INPUTS.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_one_readable_line(process: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert process.returncode in (1, 2), process
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 1, process.stderr
    line = lines[0]
    assert line.startswith("python -m tap_audience.sandbox: error: ")
    for fragment in fragments:
        assert fragment in line
    return line


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_a_bad_input_is_one_readable_line(
    name: str, bad_input_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    process = bad_input_results[name]
    assert_one_readable_line(process, *BAD_INPUTS[name][1])
    # Bad values are usage errors (argparse's 2); a host that cannot be used is 1.
    assert process.returncode == (1 if name == "host-unknown" else 2)


def test_a_port_in_use_names_it_and_suggests_port_0() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = run_sandbox("--port", str(port))
    line = assert_one_readable_line(
        process, f"127.0.0.1:{port}", "already in use", f"--port {port}", "--port 0"
    )
    assert process.returncode == 1
    assert line == (
        f"python -m tap_audience.sandbox: error: cannot listen on 127.0.0.1:{port}: the port is "
        f"already in use (--port {port}); pass another --port, or --port 0 for a free one"
    )


# --- the passcode keywarden "mails" ------------------------------------------------------------
def test_the_cli_prints_the_mailed_passcode_and_verify_accepts_it(sandbox_process) -> None:
    process, config, lines = sandbox_process
    auth = config["eq_auth_url"]
    resp = requests.get(f"{auth}/login", params={"user": ANALYST, "product": "atom"}, timeout=10)
    assert resp.status_code == 200, resp.text
    match = lines.wait_for(PASSCODE_LINE)
    assert (match["user"], match["product"]) == (ANALYST, "atom")
    resp = requests.get(
        f"{auth}/verify",
        params={"user": ANALYST, "otp": match["code"], "product": "atom"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user"] == ANALYST and body["product"] == "atom"
    assert jwt.decode(body["token"], options={"verify_signature": False})["email"] == ANALYST
    code, err = stop(process)
    assert code == 0 and "Traceback" not in err
    after_config = lines.rest()
    assert after_config[0] == "serving until Ctrl-C"
    assert "eyJ" not in "\n".join(after_config) + err  # the passcode is shown, tokens never


def test_quiet_prints_no_passcode_line() -> None:
    process, text, config = start_sandbox_process("--quiet")
    try:
        resp = requests.get(
            f"{config['eq_auth_url']}/login",
            params={"user": ANALYST, "product": "atom"},
            timeout=10,
        )
        assert resp.status_code == 200
    finally:
        code, err = stop(process)
    assert process.stdout is not None and process.stdout.read() == ""
    assert text.startswith("{") and (code, err) == (0, "")


def test_in_process_the_passcode_is_announced_only_when_asked(
    capfd: pytest.CaptureFixture[str],
) -> None:
    lines: list[str] = []
    with Sandbox(seed=1, now=datetime(2026, 11, 20, 10, 30, tzinfo=timezone.utc)) as sb:
        login = f"{sb.eq_auth_url}/login"
        requests.get(login, params={"user": ANALYST, "product": "locus"}, timeout=10)
        assert capfd.readouterr() == ("", "")  # the tap's stdout carries Singer messages
        sb.announce_passcodes_to(lines.append)
        requests.get(login, params={"user": ANALYST, "product": "atom"}, timeout=10)
        sb.announce_passcodes_to(None)
        requests.get(login, params={"user": ANALYST, "product": "atom"}, timeout=10)
        assert lines == [
            f"keywarden: mailed passcode {sb.last_otp(ANALYST)} to {ANALYST} (product atom)"
        ]
        assert sb.errors == []
    assert capfd.readouterr() == ("", "")


def test_eq_login_end_to_end_against_the_sandbox_process(sandbox_process) -> None:
    _, config, lines = sandbox_process
    login = subprocess.Popen(
        [*EQ_LOGIN, "--user", ANALYST, "--product", "atom", "--auth-url", config["eq_auth_url"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        match = lines.wait_for(PASSCODE_LINE)  # what a person would read off the sandbox
        assert (match["user"], match["product"]) == (ANALYST, "atom")
        out, err = login.communicate(match["code"] + "\n", timeout=30)
    finally:
        if login.poll() is None:
            login.send_signal(signal.SIGINT)
            login.wait(timeout=10)
    assert login.returncode == 0, err
    assert "Traceback" not in err
    token = out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["email"], claims["product"]) == (ANALYST, "atom")
