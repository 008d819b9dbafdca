"""Every command in README.md runs as written, and what it produced is checked.

Each ```bash block in the README carries, right above it, an HTML comment (invisible when
rendered) saying how this file runs it:

    <!-- readme-test: MODE -->

- `meltano-prod`: the block runs as written (`bash -euo pipefail`) in a throwaway copy of the
  Meltano project (tests/meltano_project.py), with `.venv-meltano` linked in. The environment
  gives the sandbox fixture's credentials for the block's `$PLACEHOLDERS` and points every base
  URL at the sandbox (`TAP_AUDIENCE_<URL setting>`); start and end dates pin the data to the
  fixture's fixed clock. Then the DuckDB file the `prod` environment writes is read back and
  compared with the sandbox's records; `.env` must hold the secrets, `meltano.yml` must not.
- `eq-login`: the block runs as written with `HOME` in a tmp folder (so `~/.config/...` lands
  there) and `TAP_AUDIENCE_EQ_AUTH_URL` at the sandbox's keywarden; each passcode prompt gets the
  passcode the sandbox "mailed". Each `--token-file` must then hold, mode 0600, a token for its
  product that the sandbox's keywarden accepts.
- `server`: each line starts a server (on a free port if the written one is taken), which must
  print its config; the config must work (`tap-audience --test` syncs a record of every stream);
  Ctrl-C (SIGINT to its process group) must stop it.
- `demo`: the block must be exactly the command tests/test_demo_twice.py runs twice.
- `dbt`: the block runs as written in a throwaway copy of the Meltano project (its default
  `sandbox` environment) with the sandbox fixture's settings and a database of the session's
  PostgreSQL server in the `TARGET_POSTGRES_*` / `DBT_POSTGRES_*` variables its comment names;
  then the marts in DuckDB and in PostgreSQL must equal the sandbox's truth (tests/marts.py),
  and the generated docs must be there.
- `skip: REASON`: the block is not run as is. Each line runs the stand-in registered in
  STAND_INS below (a cheap equivalent: `--help`, a copy of the files it rewrites, or the line
  itself), else it is reported as skipped with REASON.

A ```bash (or sh, shell, console) block without an annotation, or with an unknown mode, fails
`test_every_shell_block_says_how_it_is_tested`. Inline `meltano ...` commands in the prose are
checked against Meltano's own command tree (`test_inline_meltano_commands_exist`), and the
targets tables against meltano.yml and the loaded data.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import yaml

from tap_audience.connector.endpoints import INFOS
from tap_audience.connector.settings import URL_SETTINGS
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS
from tap_audience.sandbox import DIMENSIONS, Sandbox
from tests.helpers import expected_insights, sandbox_config
from tests.marts import assert_marts_equal_truth, duckdb_marts, hourly_keys_as_text, postgres_marts
from tests.meltano_project import (
    DEMO,
    MELTANO_BIN,
    MELTANO_MISSING,
    MELTANO_VENV,
    PRODUCTION,
    REPO,
    START,
    STREAMS,
    TAP_VENV,
    MeltanoProject,
    assert_readme_types,
    differences,
    loader_config,
    read_duckdb_table,
    readme_table,
    tap_env,
)

README = REPO / "README.md"
SHELL_LANGUAGES = ("bash", "sh", "shell", "console", "zsh")
ANNOTATION = re.compile(
    r"^\s*<!--\s*readme-test:\s*(?P<mode>[\w-]+)(?::\s*(?P<why>.*?))?\s*-->\s*$"
)
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<language>[\w-]*)")
LONG = 120  # seconds: the longest any one command here may take


# --- the README's blocks -----------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    mode: str | None  # None: no annotation right above the fence
    why: str  # the REASON of `skip: REASON`
    text: str  # the content, with the fence's indentation removed

    @property
    def commands(self) -> list[str]:
        """The lines a shell would run: no blank lines, no comment lines."""
        lines = (line.strip() for line in self.text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block, with the annotation on the nearest non-blank line above it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body_start = index + 1
        end = body_start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        annotation = ANNOTATION.match(above)
        body = [line.removeprefix(indent) for line in lines[body_start:end]]
        blocks.append(
            Block(
                line=index + 1,
                language=opening["language"].lower(),
                mode=annotation["mode"] if annotation else None,
                why=(annotation["why"] or "") if annotation else "",
                text="\n".join(body) + "\n",
            )
        )
        index = end + 1
    return blocks


BLOCKS = parse_blocks(README.read_text(encoding="utf-8"))
SHELL_BLOCKS = [block for block in BLOCKS if block.language in SHELL_LANGUAGES]


def blocks_in(mode: str) -> list[Any]:
    return [pytest.param(block, id=block.id) for block in SHELL_BLOCKS if block.mode == mode]


def needs_meltano() -> None:
    if not MELTANO_BIN.exists():
        pytest.skip(MELTANO_MISSING)


# --- every block says how it is tested ---------------------------------------------------------
def unannotated(blocks: list[Block]) -> list[str]:
    modes = {"meltano-prod", "eq-login", "server", "demo", "dbt", "airbyte", "skip"}
    problems = []
    for block in blocks:
        if block.language not in SHELL_LANGUAGES:
            continue
        if block.mode is None:
            problems.append(f"{block.id}: no <!-- readme-test: MODE --> right above the block")
        elif block.mode not in modes:
            problems.append(f"{block.id}: unknown mode {block.mode!r} (one of {sorted(modes)})")
        elif block.mode == "skip" and not block.why:
            problems.append(f"{block.id}: `skip` needs a reason: <!-- readme-test: skip: WHY -->")
        elif not block.commands:
            problems.append(f"{block.id}: the block runs nothing")
    return problems


def test_every_shell_block_says_how_it_is_tested():
    assert len(SHELL_BLOCKS) >= 7  # the parser found the README's blocks
    problems = unannotated(BLOCKS)
    assert not problems, "\n".join(problems)


def test_an_unannotated_or_unknown_block_fails_the_check():
    text = (
        "Intro.\n\n```bash\necho hi\n```\n\n<!-- readme-test: bogus -->\n```sh\necho\n```\n\n"
        "<!-- readme-test: skip -->\n```bash\nls\n```\n\n"
        "   <!-- readme-test: server -->\n   ```bash\n   serve --port 1\n   ```\n"
        "```yaml\nnot: shell\n```\n"
    )
    problems = unannotated(parse_blocks(text))
    assert [problem.split(":")[1] for problem in problems] == ["3", "8", "13"]
    (indented,) = [block for block in parse_blocks(text) if block.mode == "server"]
    assert indented.commands == ["serve --port 1"]


# --- meltano-prod ------------------------------------------------------------------------------
def placeholders(credentials: dict[str, Any]) -> dict[str, str]:
    """What a user exports before the block (the block's comments show the shapes)."""
    return {
        "ANGUS_USERNAME": credentials["angus_username"],
        "ANGUS_STREAMS": json.dumps(credentials["angus_streams"]),
        "EQ_USER": credentials["eq_user"],
        "EQ_ATOM_TOKEN": credentials["eq_jwt"],
    }


def read_dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = " ".join(shlex.split(value))  # Meltano quotes the values
    return values


def prod_tap_config(project_file: Path) -> dict[str, Any]:
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    (prod,) = [e for e in project["environments"] if e["name"] == PRODUCTION]
    (tap,) = [p for p in prod["config"]["plugins"]["extractors"] if p["name"] == "tap-audience"]
    return tap["config"]


@pytest.mark.parametrize("block", blocks_in("meltano-prod"))
def test_meltano_prod_block(block, sandbox, tmp_path):
    needs_meltano()
    project = MeltanoProject(tmp_path / "project")
    project.link_venvs()
    credentials = sandbox.credentials()
    env = {
        **placeholders(credentials),
        # Where a real account's base URLs would be (loopback http is accepted).
        **{f"TAP_AUDIENCE_{name.upper()}": credentials[name] for name in URL_SETTINGS},
        # The fixture's fixed clock: the expected rows are exact.
        "TAP_AUDIENCE_START_DATE": START.isoformat(),
        "TAP_AUDIENCE_END_DATE": sandbox.now.isoformat(),
    }
    ran = project.shell(["bash", "-euo", "pipefail", "-c", block.text], env=env)
    if "meltano config test" in block.text:
        assert "Plugin configuration is valid" in ran.stdout

    # Secrets went to .env, and only there; the other settings to the prod environment.
    project_file = project.root / "meltano.yml"
    secrets = [credentials["eq_jwt"]] + [s["access_token"] for s in credentials["angus_streams"]]
    stored = read_dotenv(project.root / ".env")
    assert json.loads(stored["TAP_AUDIENCE_ANGUS_STREAMS"]) == credentials["angus_streams"]
    assert stored["TAP_AUDIENCE_EQ_JWT"] == credentials["eq_jwt"]
    assert not [secret for secret in secrets if secret in project_file.read_text("utf-8")]
    config = prod_tap_config(project_file)
    assert config["angus_username"] == credentials["angus_username"]
    assert config["eq_user"] == credentials["eq_user"]
    campaign_ids = config["eq_campaign_ids"]
    assert campaign_ids and set(campaign_ids) <= set(credentials["eq_campaign_ids"])

    # The prod environment's file and schema, not the sandbox environment's.
    duckdb = pytest.importorskip("duckdb")
    target = loader_config("target-duckdb", PRODUCTION, project_file)
    assert not (project.root / loader_config("target-duckdb", "sandbox")["filepath"]).exists()
    schema = target["default_target_schema"]
    with duckdb.connect() as connection:  # closed again before anything else opens the file
        connection.execute(f"ATTACH '{project.root / target['filepath']}' AS loaded (READ_ONLY)")
        loaded = {stream: read_duckdb_table(connection, stream, schema) for stream in STREAMS}
        columns = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'loaded' AND table_schema = ?",
            [schema],
        ).fetchall()

    end = sandbox.now
    expected = {
        "angus_entities": [
            record
            for camera in credentials["angus_streams"]
            for record in sandbox.expected_angus(camera["client_id"], START, end)
        ],
        "eq_campaigns": sandbox.expected_campaigns(),
        "locus_hh_segments": [],  # the block configures no LOCUS token
        **{
            f"eq_{dimension}": expected_insights(sandbox, dimension, campaign_ids, START, end)
            for dimension in DIMENSIONS
        },
    }
    for stream in STREAMS:
        assert not differences(stream, loaded[stream], expected[stream])
    assert all(expected[stream] for stream in STREAMS - {"locus_hh_segments"})

    # The README's types table, DuckDB column, against what target-duckdb created.
    column_types: dict[str, dict[str, str]] = {}
    for table, column, data_type in columns:
        column_types.setdefault(table, {})[column] = data_type
    assert_readme_types("target-duckdb", column_types)


# --- eq-login ----------------------------------------------------------------------------------
def answer_passcodes(
    process: subprocess.Popen[str], sandbox: Sandbox, user: str, deadline: float
) -> int:
    """Type each passcode the sandbox mails into the prompt, until the process ends."""
    answered = 0
    assert process.stdin is not None
    while process.poll() is None:
        assert time.monotonic() < deadline, "eq-login never finished"
        passcode = sandbox.last_otp(user)
        if passcode is None:  # not mailed yet, or redeemed: the next command's turn
            time.sleep(0.05)
            continue
        process.stdin.write(passcode + "\n")
        process.stdin.flush()
        answered += 1
        while sandbox.last_otp(user) == passcode and process.poll() is None:
            assert time.monotonic() < deadline, "the passcode was never redeemed"
            time.sleep(0.05)
    return answered


def token_files(block: Block, home: Path) -> dict[str, Path]:
    """--product → --token-file of each command, `~` as the shell expands it."""
    files = {}
    for command in block.commands:
        words = shlex.split(command, comments=True)
        options = dict(itertools.pairwise(words))  # each word → the word after it
        files[options["--product"]] = Path(options["--token-file"].replace("~", str(home), 1))
    return files


@pytest.mark.parametrize("block", blocks_in("eq-login"))
def test_eq_login_block(block, sandbox, tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    (cwd / ".venv").symlink_to(TAP_VENV, target_is_directory=True)
    user = sandbox.credentials()["eq_user"]  # the sandbox knows its own users only
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_AUDIENCE_")},
        "HOME": str(home),
        "EQ_USER": user,
        # What the README says points eq-login at another keywarden.
        "TAP_AUDIENCE_EQ_AUTH_URL": sandbox.eq_auth_url,
    }
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answered = answer_passcodes(process, sandbox, user, time.monotonic() + LONG)
        out, err = process.communicate(timeout=LONG)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert answered == len(block.commands)
    assert out == ""  # with --token-file the tokens go to the files only

    files = token_files(block, home)
    assert set(files) == {"atom", "locus"}
    for product, path in files.items():
        assert path.is_relative_to(home)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text(encoding="utf-8").strip()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["email"], claims["product"]) == (user, product)
        # keywarden's full check (signature, expiry, product, user, not revoked) accepts it.
        confirmed = requests.get(
            f"{sandbox.eq_auth_url}/confirm",
            params={"product": product},
            headers={"eq-api-jwt": token},
            timeout=10,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["user"] == user


# eq-login reads its default --auth-url from the variable that sets the tap's eq_auth_url.
def eq_login(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TAP_VENV / "bin" / "tap-audience"), "eq-login", *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TAP_AUDIENCE_")}, **env},
        input="000000\n",  # a wrong passcode, for the runs that get as far as the prompt
        capture_output=True,
        text=True,
        timeout=LONG,
        check=False,
    )


def test_eq_login_shows_the_variable_in_its_help():
    shown = eq_login("--help", env={}).stdout
    assert re.search(r"--auth-url.*\[env var: TAP_AUDIENCE_EQ_AUTH_URL;", shown, re.S)


def test_plain_http_from_the_variable_is_refused_naming_it():
    off_loopback = "http://192.0.2.10/prod"  # TEST-NET-1: nothing is ever sent there
    refused = eq_login(
        "--user", "analyst@eq.example", "--product", "atom",
        env={"TAP_AUDIENCE_EQ_AUTH_URL": off_loopback},
    )  # fmt: skip
    assert refused.returncode == 1
    assert "--auth-url (from TAP_AUDIENCE_EQ_AUTH_URL) is http://192.0.2.10: plain http" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr


def test_the_option_wins_over_the_variable(sandbox):
    reached = eq_login(
        "--user", "analyst@eq.example", "--product", "atom", "--auth-url", sandbox.eq_auth_url,
        env={"TAP_AUDIENCE_EQ_AUTH_URL": "http://192.0.2.10/prod"},
    )  # fmt: skip
    # The sandbox's keywarden mailed a passcode and judged the (wrong) one typed.
    assert sandbox.last_otp("analyst@eq.example") is not None
    assert reached.returncode == 1
    assert "EQ login failed: Invalid OTP for user analyst@eq.example" in reached.stderr


# --- server ------------------------------------------------------------------------------------
def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port (as the sandbox does, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def nobody_listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines_of(stream: Any) -> queue.Queue[str | None]:
    """The stream's lines as they come (None at its end), read by a thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def printed_config(lines: queue.Queue[str | None], deadline: float) -> tuple[str, dict[str, Any]]:
    """What the server printed up to its tap config, and the config."""
    head: list[str] = []
    while not head or head[-1].rstrip("\n") != "}":  # the config's closing brace
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "the server stopped before printing its config:\n" + "".join(head)
        head.append(line)
    text = "".join(head)
    return text, json.loads(text[text.index("\n{") :])


def server_commands() -> list[Any]:
    return [
        pytest.param(command, id=f"{block.id}:{command.split('#')[0].strip()}")
        for block in SHELL_BLOCKS
        if block.mode == "server"
        for command in block.commands
    ]


@pytest.mark.parametrize("command", server_commands())
def test_server_block(command, tmp_path):
    port = int(re.search(r"--port[ =](\d+)", command)[1])  # type: ignore[index]
    if not port_is_free(port):  # someone's server: the test uses another port
        new_port = free_port()
        command = command.replace(f"--port {port}", f"--port {new_port}")
        port = new_port
    (tmp_path / ".venv").symlink_to(TAP_VENV, target_is_directory=True)
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        printed, config = printed_config(lines_of(process.stdout), time.monotonic() + LONG)
        base = f"http://127.0.0.1:{port}"
        assert f"serving at {base} " in printed
        for name in URL_SETTINGS:
            assert re.search(rf"^\s+{name}\s+{re.escape(config[name])}$", printed, re.M), name
            assert config[name].startswith(base + "/")
        # "A ready config": the tap's --test syncs a record of every stream with it.
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config), encoding="utf-8")
        tested = subprocess.run(
            [str(TAP_VENV / "bin" / "tap-audience"), "--config", str(config_file), "--test"],
            capture_output=True,
            text=True,
            timeout=LONG,
            check=False,
        )
        assert tested.returncode == 0, tested.stderr[-3000:]
        messages = [json.loads(line) for line in tested.stdout.splitlines() if line.strip()]
        assert {m["stream"] for m in messages if m["type"] == "RECORD"} == STREAMS
    finally:
        # Ctrl-C: SIGINT to the foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0, err
    assert nobody_listens(port)  # it let go of the port


# --- demo --------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", blocks_in("demo"))
def test_demo_block_is_what_test_demo_twice_runs(block):
    # tests/test_demo_twice.py runs this line twice and compares the tables.
    assert [shlex.split(command, comments=True) for command in block.commands] == [DEMO]


# --- dbt ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_in("dbt"))
def test_dbt_block(block, sandbox, postgres_server, tmp_path):
    needs_meltano()
    project = MeltanoProject(tmp_path / "project")
    project.link_venvs()
    database = postgres_server.create_database("readme_dbt")
    env = {**tap_env(sandbox), **database.target_env(), **database.dbt_env()}
    project.shell(["bash", "-euo", "pipefail", "-c", block.text], env=env)

    duckdb_target = loader_config("target-duckdb")
    in_duckdb = duckdb_marts(
        project.root / duckdb_target["filepath"], duckdb_target["default_target_schema"]
    )
    in_postgres = postgres_marts(
        database, loader_config("target-postgres")["default_target_schema"]
    )
    for marts in (in_duckdb, in_postgres):
        assert_marts_equal_truth(hourly_keys_as_text(marts), sandbox)
    assert (project.root / "transform" / "target" / "index.html").is_file()


# --- skip: stand-ins ---------------------------------------------------------------------------
def run_in(cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("TAP_AUDIENCE_")},
        capture_output=True,
        text=True,
        timeout=LONG,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


def benchmark_parses(command: str, tmp_path: Path) -> None:
    """The benchmark takes minutes: its arguments must parse (`--help` after them)."""
    shown = run_in(REPO, f"{command} --help").stdout
    assert shown.startswith("usage: benchmark.py")


def pytest_runs(command: str, tmp_path: Path) -> None:
    """As written: every test it collects passes."""
    summary = run_in(REPO, command).stdout.splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s", summary), summary


# The nine ATOM insights schemas are generated from one template in update_docs.py too.
INSIGHTS_SCHEMAS = tuple(f"schemas/eq_{dimension}.json" for dimension in INSIGHT_DIMENSIONS)
DOC_FILES = ("README.md", "meltano.yml", "hub/tap-audience.yml", *INSIGHTS_SCHEMAS)


def update_docs_rewrites_a_copy(command: str, tmp_path: Path) -> None:
    """As written, in a copy of the files it rewrites, made stale first: it makes them current
    again, identical to the repository's (which are current: a hand-edited insights schema
    fails here)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "update_docs.py", tmp_path / "scripts")
    (tmp_path / ".venv").symlink_to(TAP_VENV, target_is_directory=True)
    stale = {
        "README.md": ("| start_date |", "| stale_setting |"),
        "meltano.yml": ("label: Start date", "label: Stale"),
        "hub/tap-audience.yml": ("label: Start date", "label: Stale"),
        "schemas/eq_os.json": ("The OS value", "The Stale value"),
        "schemas/eq_lang.json": ('"additionalProperties": false', '"additionalProperties": true'),
    }
    assert len(INSIGHTS_SCHEMAS) == 9
    missing = "schemas/eq_iab.json"  # not there at all: written from scratch
    for name in DOC_FILES:
        if name == missing:
            continue
        (tmp_path / name).parent.mkdir(exist_ok=True)
        text = (REPO / name).read_text(encoding="utf-8")
        if name in stale:
            old, new = stale[name]
            assert old in text
            text = text.replace(old, new, 1)
        (tmp_path / name).write_text(text, encoding="utf-8")
    run_in(tmp_path, command)
    for name in DOC_FILES:
        assert (tmp_path / name).read_text("utf-8") == (REPO / name).read_text("utf-8"), name


STAND_INS: dict[str, Callable[[str, Path], None]] = {
    ".venv/bin/python bench/benchmark.py": benchmark_parses,
    ".venv/bin/python bench/benchmark.py latency": benchmark_parses,
    ".venv/bin/python -m pytest tests/test_angus.py -q": pytest_runs,
    ".venv/bin/python scripts/update_docs.py": update_docs_rewrites_a_copy,
}


def skipped_commands() -> list[Any]:
    plain = [
        (command.split(" #")[0].strip(), block)
        for block in SHELL_BLOCKS
        if block.mode == "skip"
        for command in block.commands
    ]
    return [pytest.param(command, block, id=f"{block.id}:{command}") for command, block in plain]


@pytest.mark.parametrize(("command", "block"), skipped_commands())
def test_skipped_block_line(command, block, tmp_path):
    stand_in = STAND_INS.get(command)
    if stand_in is None:
        pytest.skip(f"{block.id} `{command}`: {block.why}")
    stand_in(command, tmp_path)


# --- meltano commands in the prose -------------------------------------------------------------
RESOLVE = r"""
import json, sys
import click
from meltano.cli import cli

problems = []
for words in json.load(sys.stdin):
    command, path, rest = cli, "meltano", list(words[1:])
    while isinstance(command, click.Group) and rest:
        word = rest.pop(0)
        if word.startswith("-"):
            option = next((p for p in command.params if word.split("=")[0] in p.opts), None)
            if option is None:
                problems.append(f"{' '.join(words)}: {path} has no option {word}")
                break
            if not getattr(option, "is_flag", False) and "=" not in word:
                rest = rest[1:]
            continue
        for name in word.split("|"):  # `meltano state get|list|clear`
            if command.get_command(click.Context(command), name) is None:
                problems.append(f"{' '.join(words)}: `{path}` has no subcommand {name!r}")
        command = command.get_command(click.Context(command), word.split("|")[0])
        path += " " + word
        if command is None:
            break
print(json.dumps(problems))
"""


def inline_meltano_commands(text: str) -> list[list[str]]:
    prose = re.sub(r"^\s*(```|~~~).*?^\s*\1", "", text, flags=re.S | re.M)
    commands = []
    for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", prose):
        words = shlex.split(span.replace("...", ""))
        if words and Path(words[0]).name == "meltano":
            commands.append(["meltano", *words[1:]])
    return commands


def meltano_problems(commands: list[list[str]]) -> list[str]:
    resolved = subprocess.run(
        [str(MELTANO_VENV / "bin" / "python"), "-c", RESOLVE],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        timeout=LONG,
        check=True,
    )
    return json.loads(resolved.stdout)


def test_inline_meltano_commands_exist():
    needs_meltano()
    commands = inline_meltano_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 5
    # The checker itself: the form Meltano 4 refuses is caught.
    wrong = ["meltano", "config", "tap-audience", "set", "x"]
    assert meltano_problems([wrong]) == [
        "meltano config tap-audience set x: `meltano config` has no subcommand 'tap-audience'"
    ]
    assert meltano_problems(commands) == []


# --- the targets tables ------------------------------------------------------------------------
def test_every_loader_in_meltano_yml_is_in_the_targets_table():
    loaders = yaml.safe_load((REPO / "meltano.yml").read_text("utf-8"))["plugins"]["loaders"]
    rows = {row["loader"]: row for row in readme_table("| loader |")}
    assert set(rows) == {loader["name"] for loader in loaders}
    types = readme_table("| schema type |")
    for loader in loaders:
        row = rows[loader["name"]]
        assert row["`pip_url`"] == f"`{loader['pip_url']}`"
        # Its behaviour with re-emitted rows, and the environment meltano.yml gives it.
        assert re.search(r"\*\*(appended|upserted)\*\*", row["rows re-emitted in the lookback"])
        for name, value in (loader.get("env") or {}).items():
            assert f"{name}: {value}" in row["notes"]
        assert all(type_row[loader["name"]] for type_row in types)  # a column for each


# --- tests the README names --------------------------------------------------------------------
def named_tests() -> list[tuple[str, str]]:
    """(file, test) for every `test_file.py::test_name` in the README; a bare `::test_name`
    belongs to the file named last before it (as the reliability table writes them)."""
    found, current = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        for file, name in re.findall(r"`(?:(test_\w+\.py))?::(test_\w+)", line):
            current = file or current
            assert current, f"README: `::{name}` without a file before it: {line[:80]}"
            found.append((current, name))
    return found


def test_every_test_the_readme_names_exists():
    named = named_tests()
    assert len(named) > 40
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not re.search(
            rf"^def {name}\(", (REPO / "tests" / file).read_text(encoding="utf-8"), re.MULTILINE
        )
    ]
    assert missing == []


# --- airbyte and pyairbyte ---------------------------------------------------------------------
AIRBYTE_OK = {"spec": "SPEC", "check": "CONNECTION_STATUS", "discover": "CATALOG"}


@pytest.mark.parametrize("block", blocks_in("airbyte"))
def test_airbyte_block(block, tmp_path, sandbox):
    """As written, in a folder whose config.json points at the sandbox: each command writes
    protocol messages only, and the one the comment promises."""
    from airbyte_protocol.models import AirbyteMessage

    (tmp_path / "config.json").write_text(json.dumps(sandbox_config(sandbox)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in block.commands:
        process = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=LONG,
            check=False,
        )
        assert process.returncode == 0, (command, process.stderr)
        kinds = {
            AirbyteMessage.model_validate_json(line).type.value
            for line in process.stdout.splitlines()
        }
        verb = command.split()[1]
        assert AIRBYTE_OK[verb] in kinds, command
        if verb == "check":
            status = next(
                json.loads(line)
                for line in process.stdout.splitlines()
                if "CONNECTION_STATUS" in line
            )
            assert status["connectionStatus"]["status"] == "SUCCEEDED", status


PYTHON_BLOCKS = [block for block in BLOCKS if block.language == "python"]
PYAIRBYTE = REPO / ".venv-pyairbyte" / "bin" / "python"


def test_every_python_block_says_how_it_is_tested():
    assert PYTHON_BLOCKS
    assert {block.mode for block in PYTHON_BLOCKS} == {"pyairbyte"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.id) for b in PYTHON_BLOCKS if b.mode == "pyairbyte"]
)
def test_pyairbyte_block(block, tmp_path):
    """As written, with PyAirbyte's interpreter and `source-audience` on PATH: it reads every
    stream of the built-in sandbox into PyAirbyte's cache and prints their counts."""
    if not PYAIRBYTE.exists():
        pytest.skip(
            "PyAirbyte is not installed: `bash scripts/bootstrap.sh --test-tools` installs it"
        )
    (tmp_path / "snippet.py").write_text(block.text)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.run(
        [str(PYAIRBYTE), "snippet.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    counts = ast.literal_eval(process.stdout.strip().splitlines()[-1])
    assert set(counts) == {info.name for info in INFOS}
    assert counts["angus_entities"] > 0 and counts["eq_os"] > 0
