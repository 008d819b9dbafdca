"""Every command in README.md runs as written, and what it produced is checked.

Each ```bash block in the README carries, right above it, an HTML comment (invisible when
rendered) saying how this file runs it:

    <!-- readme-test: MODE -->

Every block runs in a fresh shell, as a new user's: PATH without any virtualenv's bin folder
(tests/meltano_project.py's plain_path), so a command the README writes as a bare `meltano`,
`dagster`, `source-audience`, ... fails here as it would for that user (and
`test_every_shell_block_says_how_it_is_tested` refuses it before anything runs). The README's
setup (`.venv`, `.venv-meltano`) is the tests' own venvs, linked into each throwaway project.

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
- `shards`: the block (shards of a sync into target-postgres, started together through
  orchestration/pipeline.py) runs as written in a throwaway copy of the Meltano project (its
  default `sandbox` environment) with the sandbox fixture's settings and a database of the
  session's PostgreSQL server; the shards' union must then be every record exactly once, and
  each shard must have succeeded, with its own state.
- `kubernetes`: the image and the cluster are not here, so each line runs its closest real
  form: `docker build -f Dockerfile` checks the image's Meltano pin against the one the tests
  run and runs its build step (`MELTANO_ENVIRONMENT=prod meltano install`) in a throwaway copy
  of the project; `kubectl apply -f manifest` validates the manifest against the Kubernetes
  API's schemas (kubernetes-validate --strict) and, for a Job or CronJob, runs every pod of it
  as Kubernetes would (tests/kubernetes_pods.py): its init container (Meltano's system
  database), then the image's ENTRYPOINT (deploy/kubernetes/run-shard.sh), in that copy, with
  each container's env, the Secret's keys (filled in: the sandbox's credentials, the session's
  PostgreSQL, which also holds Meltano's system database), `JOB_COMPLETION_INDEX` and the
  image's `MELTANO_ENVIRONMENT=prod`. The pods' union in PostgreSQL must be every record
  exactly once, and each shard's state must be in that system database.
- `dagster`: `pip install` runs as written (in the repository, whose `.venv` it is); `dagster
  dev -f FILE` (a web server) runs as `dagster asset materialize -f FILE --select
  audience_tables --partition N` with the same file, copied into a throwaway copy of the
  project, and the same environment (the project's default `sandbox` environment): the
  materialization must load its shard, with no `meltano` on PATH.
- `stand-in: REASON`: the block is not run as is (REASON). Each line runs the stand-in
  registered for it in STAND_INS below: the line itself with an argument that makes it quick
  (`--collect-only`, `--quick`), the line on a copy of the files it rewrites, or the closest
  real form of what it needs (a Docker build's steps outside Docker). A line without one fails
  `test_every_shell_block_says_how_it_is_tested`.

A ```bash (or sh, shell, console) block without an annotation, or with an unknown mode, fails
`test_every_shell_block_says_how_it_is_tested`. Inline `meltano ...` commands in the prose are
checked against Meltano's own command tree (`test_inline_meltano_commands_exist`), and the
targets tables against meltano.yml and the loaded data.
"""

from __future__ import annotations

import ast
import datetime as dt
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
import threading
import time
import venv
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
from tests import kubernetes_pods
from tests.helpers import expected_insights, sandbox_config
from tests.marts import assert_marts_equal_truth, duckdb_marts, hourly_keys_as_text, postgres_marts
from tests.meltano_project import (
    DEMO,
    ENVIRONMENT,
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
    expected_records,
    keyed,
    loader_config,
    plain_path,
    read_duckdb_table,
    readme_table,
    tap_env,
)
from tests.postgres_server import Postgres

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
    why: str  # the REASON of `stand-in: REASON`
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
MODES = {
    "meltano-prod", "eq-login", "server", "demo", "dbt", "airbyte", "shards", "kubernetes",
    "dagster", "stand-in",
}  # fmt: skip
# Commands a new user has only inside the README's venvs: a block names them by their path.
VENV_COMMANDS = {
    "meltano": ".venv-meltano/bin/meltano",
    **{name: f".venv/bin/{name}" for name in ("tap-audience", "source-audience", "dagster")},
    "pip": ".venv/bin/python -m pip",
    "pytest": ".venv/bin/python -m pytest",
}


def without_comment(command: str) -> str:
    return command.split(" #", maxsplit=1)[0].strip()


def bare_commands(block: Block) -> list[str]:
    """The block's lines that run a VENV_COMMANDS command by its bare name."""
    problems = []
    for command in block.commands:
        words = shlex.split(command, comments=True)
        while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value before the command
            words.pop(0)
        if words and words[0] in VENV_COMMANDS:
            problems.append(
                f"{block.id}: `{words[0]}` is on no new user's PATH: write "
                f"`{VENV_COMMANDS[words[0]]}`"
            )
    return problems


def unannotated(blocks: list[Block]) -> list[str]:
    problems = []
    for block in blocks:
        if block.language not in SHELL_LANGUAGES:
            continue
        if block.mode is None:
            problems.append(f"{block.id}: no <!-- readme-test: MODE --> right above the block")
        elif block.mode not in MODES:
            problems.append(f"{block.id}: unknown mode {block.mode!r} (one of {sorted(MODES)})")
        elif block.mode == "stand-in" and not block.why:
            problems.append(
                f"{block.id}: `stand-in` needs a reason: <!-- readme-test: stand-in: WHY -->"
            )
        elif not block.commands:
            problems.append(f"{block.id}: the block runs nothing")
        elif block.mode == "stand-in":
            problems += [
                f"{block.id}: no stand-in for `{command}` in tests/test_readme.py's STAND_INS"
                for command in map(without_comment, block.commands)
                if command not in STAND_INS
            ]
        problems += bare_commands(block)
    return problems


def test_every_shell_block_says_how_it_is_tested():
    assert len(SHELL_BLOCKS) >= 7  # the parser found the README's blocks
    problems = unannotated(BLOCKS)
    assert not problems, "\n".join(problems)


def test_an_unannotated_or_unknown_block_fails_the_check():
    text = (
        "Intro.\n\n```bash\necho hi\n```\n\n<!-- readme-test: bogus -->\n```sh\necho\n```\n\n"
        "<!-- readme-test: stand-in -->\n```bash\nls\n```\n\n"
        "   <!-- readme-test: server -->\n   ```bash\n   serve --port 1\n   ```\n"
        "```yaml\nnot: shell\n```\n\n"
        "<!-- readme-test: stand-in: slow -->\n```bash\nsleep 600  # no stand-in\n```\n\n"
        "<!-- readme-test: dbt -->\n```bash\nX=1 meltano run a  # bare\n```\n"
    )
    problems = unannotated(parse_blocks(text))
    assert [problem.split(":")[1] for problem in problems] == ["3", "8", "13", "26", "31"]
    assert "no stand-in for `sleep 600`" in problems[3]
    assert "write `.venv-meltano/bin/meltano`" in problems[4]
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
        "PATH": plain_path(),
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


# --- scale-out: shards, kubernetes, dagster ----------------------------------------------------
@pytest.fixture(scope="module")
def scale_project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """One throwaway copy of the project for the scale-out blocks: each writes its own outputs
    (database, DuckDB file) and state ids (environment, loader, shard)."""
    project = MeltanoProject(tmp_path_factory.mktemp("readme-scale") / "project")
    project.link_venvs()
    # The runner and the Dagster definitions, which find the project from where they lie.
    shutil.copytree(
        REPO / "orchestration",
        project.root / "orchestration",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return project


def assert_loaded_once(
    database: Postgres, schema: str, expected: dict[str, list[dict[str, Any]]]
) -> None:
    """The shards' union in `schema`: every record of every stream exactly once."""
    loaded = database.records(schema)
    assert set(loaded) == STREAMS
    for stream in STREAMS:
        assert expected[stream], stream  # nothing is compared vacuously
        assert len(keyed(stream, loaded[stream])) == len(loaded[stream]) == len(expected[stream])
        assert not differences(stream, loaded[stream], expected[stream])


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_in("shards"))
def test_shards_block(block, sandbox, postgres_server, scale_project):
    needs_meltano()
    database = postgres_server.create_database("readme_shards")
    env = {**tap_env(sandbox), **database.target_env()}
    scale_project.shell(["bash", "-euo", "pipefail", "-c", block.text], env=env)

    (count,) = set(re.findall(r"--shard-count (\d+)", block.text))
    schema = loader_config("target-postgres")["default_target_schema"]  # the sandbox's
    assert_loaded_once(database, schema, expected_records(sandbox))
    for index in range(int(count)):  # every shard ran, each with its own state
        state_id = f"{ENVIRONMENT}:tap-audience-to-target-postgres:shard-{index}"
        # The runner's summary, where it goes by default.
        summaries = scale_project.root / "output" / "summaries"
        summary = json.loads((summaries / f"{state_id.replace(':', '.')}.json").read_text())
        assert summary["status"] == "succeeded", summary["error"]
        assert summary["shard"] == {"count": int(count), "index": index}
        assert scale_project.state(state_id).get("bookmarks"), state_id


def validate_manifest(path: Path) -> dict[str, Any]:
    """What `kubectl apply` would check first: the manifest against the API's schemas."""
    validator = TAP_VENV / "bin" / "kubernetes-validate"
    run_in(REPO, f"{validator} --strict --kubernetes-version 1.33.0 {path}")
    manifest: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return manifest


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_in("kubernetes"))
def test_kubernetes_block(block, sandbox, postgres_server, scale_project, tmp_path):
    needs_meltano()
    database = postgres_server.create_database("readme_kubernetes")
    image: kubernetes_pods.Image | None = None
    secrets: dict[str, dict[str, str]] = {}  # applied Secrets, filled in
    pods = 0
    for command in map(without_comment, block.commands):
        if built := re.fullmatch(r"docker build -f (\S+) -t \S+ \.", command):
            # The image's Meltano is the one the tests run; its build step installs every
            # plugin in the image's environment.
            image = kubernetes_pods.image(REPO / built[1])
            kubernetes_pods.assert_tests_run_the_images_meltano(image)
            scale_project.meltano("install", env={"MELTANO_ENVIRONMENT": image.build_environment})
            continue
        applied = re.fullmatch(r"kubectl apply -f (\S+)", command)
        assert applied, f"no stand-in for `{command}`"
        manifest = validate_manifest(REPO / applied[1])
        if manifest["kind"] == "Secret":
            # "After filling it in": the sandbox's credentials, the session's PostgreSQL.
            filled = kubernetes_pods.fill_secret(manifest, sandbox, database)
            secrets[manifest["metadata"]["name"]] = filled
            continue
        assert image, "the image is built before its Job runs"
        job = kubernetes_pods.job_spec(manifest)
        (container,) = job["template"]["spec"]["containers"]
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == "/var/log/tap-audience"
        summaries = tmp_path / "summaries"  # the pods' log volume
        summaries.mkdir()
        for index in range(job["completions"]):  # one pod per index, as an Indexed Job runs them
            # Its init containers (Meltano's system database), then the image's ENTRYPOINT.
            logged = kubernetes_pods.run_pod(
                scale_project,
                job["template"]["spec"],
                image,
                secrets,
                {
                    "JOB_COMPLETION_INDEX": str(index),
                    **kubernetes_pods.cluster_and_sandbox(database, sandbox),
                    # run-shard.sh's default, under the volume's mount path
                    "TAP_AUDIENCE_RUN_SUMMARY_PATH": str(summaries / f"summary-shard-{index}.json"),
                },
            ).stdout
            assert "tap-audience run summary: " in logged  # the summary in the pod's log
            pods += 1
        assert image.env.get("MELTANO_ENVIRONMENT") == PRODUCTION
        schema = loader_config(container_loader(container), PRODUCTION)["default_target_schema"]
        assert_loaded_once(database, schema, expected_records(sandbox))
        # The shards' state, where the pods keep it: the system database the Secret names.
        given = kubernetes_pods.container_env(container, secrets)
        system_db = {"MELTANO_DATABASE_URI": given["MELTANO_DATABASE_URI"]}
        for index in range(job["completions"]):
            summary = json.loads((summaries / f"summary-shard-{index}.json").read_text())
            assert summary["status"] == "succeeded"
            assert summary["shard"] == {"count": job["completions"], "index": index}
            state_id = f"{PRODUCTION}:tap-audience-to-{container_loader(container)}:shard-{index}"
            assert scale_project.state(state_id, env=system_db).get("bookmarks"), state_id
    assert pods, "the block ran no pod"


def container_loader(container: dict[str, Any]) -> str:
    (loader,) = [item["value"] for item in container["env"] if item["name"] == "LOADER"]
    return str(loader)


DAGSTER_DEFINITIONS = "orchestration/dagster/definitions.py"


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_in("dagster"))
def test_dagster_block(block, scale_project, tmp_path):
    needs_meltano()
    dagster = TAP_VENV / "bin" / "dagster"
    install, develop = block.commands
    # As written, in the repository: its `.venv` is the one the tests run in.
    assert install.startswith(".venv/bin/python -m pip install -e ")
    run_in(REPO, install, timeout=600)
    if not dagster.exists():
        pytest.fail(f"{install} installed no {dagster}")

    # `dagster dev` serves the UI until stopped: materialize the asset with the same file and
    # environment instead, the file (and the runner beside it) copied into the project copy
    # (it finds the project, and the project's own .venv-meltano/bin/meltano, from where it
    # lies: scale_project). No meltano on PATH.
    served = re.fullmatch(r"(?P<env>(?:\w+=\S+ )*)\.venv/bin/dagster dev -f (?P<file>\S+)", develop)
    assert served and served["file"] == DAGSTER_DEFINITIONS, develop
    (shards,) = re.findall(r"TAP_AUDIENCE_DAGSTER_SHARDS=(\d+)", served["env"])
    partition = str(int(shards) - 1)  # the last shard
    home = tmp_path / "dagster-home"  # Dagster's instance, not the user's
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    materialize = (
        f"{served['env']}.venv/bin/dagster asset materialize -f {served['file']} "
        f"--select audience_tables --partition {partition}"
    )
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)  # a short range: quick
    env = {"DAGSTER_HOME": str(home), "TAP_AUDIENCE_START_DATE": recent.isoformat()}
    ran = scale_project.shell(["bash", "-euo", "pipefail", "-c", materialize], env=env)
    assert 'STEP_SUCCESS - Finished execution of step "audience_tables"' in ran.stderr

    # The shard ran in the project's default (`sandbox`) environment: its own DuckDB file.
    summary_file = scale_project.root / "output" / "summaries" / f"summary-shard-{partition}.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["status"] == "succeeded"
    assert summary["shard"] == {"count": int(shards), "index": int(partition)}
    target = loader_config("target-duckdb")
    duckdb = pytest.importorskip("duckdb")
    with duckdb.connect() as connection:
        path = scale_project.root / target["filepath"]
        connection.execute(f"ATTACH '{path}' AS loaded (READ_ONLY)")
        for stream, numbers in summary["streams"].items():
            if numbers["records"]:
                rows = read_duckdb_table(connection, stream, target["default_target_schema"])
                assert len(rows) == numbers["records"], stream
    assert summary["records"] > 0


# --- stand-ins ---------------------------------------------------------------------------------
def run_in(
    cwd: Path, command: str, timeout: float = LONG, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` in a fresh shell (PATH without the venvs), which it must pass."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TAP_AUDIENCE_")},
            "PATH": plain_path(),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


def benchmark_quick(command: str, tmp_path: Path) -> None:
    """The benchmark takes minutes: as written with `--quick` (the same scenarios, smaller)."""
    shown = run_in(REPO, f"{command} --quick", timeout=600).stdout
    scenario = command.split("benchmark.py")[1].strip()
    wanted = [scenario] if scenario else ["throughput", "latency", "memory"]
    assert re.findall(r"^### (\w+):", shown, re.MULTILINE) == [s.title() for s in wanted]
    assert "| tap-audience" in shown  # a row of the tap's own numbers


def pytest_runs(command: str, tmp_path: Path) -> None:
    """As written: every test it collects passes."""
    summary = run_in(REPO, command).stdout.splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s", summary), summary


def collected(command: str) -> set[str]:
    """The test ids `command` (a pytest run) selects: as written, with `--collect-only`."""
    shown = run_in(REPO, f"{command} --collect-only").stdout.splitlines()  # `-q`: one id a line
    return {line for line in shown if "::" in line}


def quick_loop_collects(command: str, tmp_path: Path) -> None:
    """The quick loop runs the whole suite but the slow tests: as written with `--collect-only`,
    it must select no slow test, and the slow ones must be the Meltano, database and wheel
    tests the README says it leaves out."""
    quick = collected(command)
    slow = collected(".venv/bin/python -m pytest -m slow -q")
    assert quick and slow and not quick & slow
    assert any(test.startswith("tests/test_angus.py::") for test in quick)
    files = {test.split("::")[0] for test in slow}
    for left_out in ("test_meltano.py", "test_postgres.py", "test_dbt.py", "test_wheel.py"):
        assert f"tests/{left_out}" in files
        assert not any(test.startswith(f"tests/{left_out}::") for test in quick)


def suite_lints_and_collects(command: str, tmp_path: Path) -> None:
    """The test command is the suite itself: as written with `--collect-only` (passed on to
    pytest), so its setup (bootstrap.sh --test-tools, install_postgres.sh), ruff and mypy run
    for real and pytest collects every test without running them again."""
    shown = run_in(REPO, f"{command} --collect-only -q", timeout=900).stdout
    assert re.search(r"^\d+ files? already formatted$", shown, re.MULTILINE), shown[-2000:]
    assert "All checks passed!" in shown
    assert re.search(r"^Success: no issues found in \d+ source files$", shown, re.MULTILINE)
    assert re.search(r"^\d+ tests collected in [\d.]+s$", shown, re.MULTILINE), shown[-2000:]


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


def airbyte_image_outside_docker(command: str, tmp_path: Path) -> None:
    """`docker build .` needs a Docker daemon: the Dockerfile's steps without one. Its COPY lines
    make the build context, its `pip install .` installs that into a fresh virtualenv (the
    tap's dependencies come from this venv, so only the build backend is fetched), and its
    ENTRYPOINT answers `spec`, and `check` against the built-in sandbox, from a folder without
    the repository's files."""
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    tag = re.fullmatch(r"docker build -t (\S+):(\S+) \.", command)
    assert tag, command
    label = re.search(r'^LABEL io\.airbyte\.version="([^"]+)"$', dockerfile, re.MULTILINE)
    assert label and label[1] == tag[2]  # the tag the README builds is the image's version
    context = tmp_path / "context"
    context.mkdir()
    copies = re.findall(r"^COPY (.+) (\S+)$", dockerfile, re.MULTILINE)
    assert copies
    for sources, destination in copies:
        for source in sources.split():
            # `COPY a b ./` copies into the folder; `COPY a ./a` names the copy.
            named = not destination.endswith("/")
            target = context / destination if named else context / destination / Path(source).name
            if (REPO / source).is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
                shutil.copytree(REPO / source, target, ignore=ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / source, target)
    (run,) = re.findall(r"^RUN pip install --no-cache-dir (\S+)", dockerfile, re.MULTILINE)
    image = tmp_path / "image"
    venv.create(image, with_pip=True)
    (site,) = (image / "lib").glob("python*/site-packages")
    (tap_site,) = (TAP_VENV / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(f"{tap_site}\n", encoding="utf-8")
    pip = f"{image}/bin/python -m pip install --quiet --disable-pip-version-check --no-deps"
    run_in(context, f"{pip} {run}", timeout=600)
    entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"\]$', dockerfile, re.MULTILINE)
    assert entrypoint
    source = image / "bin" / Path(entrypoint[1]).name
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "sandbox.json").write_text(json.dumps({"sandbox": True}), encoding="utf-8")
    from airbyte_protocol.models import AirbyteMessage

    for arguments, kind in (("spec", "SPEC"), ("check --config sandbox.json", "CONNECTION_STATUS")):
        shown = run_in(elsewhere, f"{source} {arguments}").stdout.splitlines()
        messages = [AirbyteMessage.model_validate_json(line) for line in shown]
        (answer,) = [m for m in messages if m.type.value == kind]
        if kind == "CONNECTION_STATUS":
            assert answer.connectionStatus and answer.connectionStatus.status.value == "SUCCEEDED"


@dataclass(frozen=True)
class StandIn:
    run: Callable[[str, Path], None]
    slow: bool = False  # Meltano, the whole suite, the benchmark, a virtualenv: `slow`


STAND_INS: dict[str, StandIn] = {
    "bash scripts/test.sh": StandIn(suite_lints_and_collects, slow=True),
    ".venv/bin/python -m pytest tests/test_angus.py -q": StandIn(pytest_runs),
    '.venv/bin/python -m pytest -m "not slow" -q': StandIn(quick_loop_collects, slow=True),
    ".venv/bin/python scripts/update_docs.py": StandIn(update_docs_rewrites_a_copy),
    "docker build -t tap-audience/source-audience:0.1.0 .": StandIn(
        airbyte_image_outside_docker, slow=True
    ),
    ".venv/bin/python bench/benchmark.py": StandIn(benchmark_quick, slow=True),
    ".venv/bin/python bench/benchmark.py latency": StandIn(benchmark_quick, slow=True),
}


def stand_in_commands() -> list[Any]:
    """Every line of the `stand-in` blocks, each distinct one once (named by its blocks)."""
    blocks: dict[str, list[Block]] = {}
    for block in SHELL_BLOCKS:
        if block.mode == "stand-in":
            for command in map(without_comment, block.commands):
                blocks.setdefault(command, []).append(block)
    return [
        pytest.param(
            command,
            id=f"{','.join(block.id for block in found)}:{command}",
            marks=[pytest.mark.slow] if command in STAND_INS and STAND_INS[command].slow else [],
        )
        for command, found in blocks.items()
    ]


@pytest.mark.parametrize("command", stand_in_commands())
def test_stand_in_block_line(command, tmp_path):
    assert command in STAND_INS, f"no stand-in for `{command}`"
    STAND_INS[command].run(command, tmp_path)


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


IGNORING_THE_DEFAULT = r"""
import json
from meltano.cli import cli
from meltano.cli.utils import CliEnvironmentBehavior

ignoring = CliEnvironmentBehavior.environment_optional_ignore_default
names = [n for n, c in cli.commands.items() if getattr(c, "environment_behavior", 0) is ignoring]
print(json.dumps(sorted(names)))
"""


def test_the_commands_the_readme_says_ignore_the_default_environment_do():
    """`meltano config test tap-audience` right after the demo checks production's config, not
    the sandbox's: the README names every command that ignores `default_environment`, as
    Meltano's own command tree marks them."""
    needs_meltano()
    prose = " ".join(README.read_text(encoding="utf-8").split())
    (listed,) = re.findall(
        r"((?:`meltano \w+`, )*`meltano \w+` and `meltano \w+`) ignore `default_environment`",
        prose,
    )
    ignoring = subprocess.run(
        [str(MELTANO_VENV / "bin" / "python"), "-c", IGNORING_THE_DEFAULT],
        capture_output=True,
        text=True,
        timeout=LONG,
        check=True,
    )
    assert sorted(re.findall(r"`meltano (\w+)`", listed)) == json.loads(ignoring.stdout)


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
    """(file, test) for every `test_file.py::test_name` (or `unit/test_file.py::...`, under
    tests/) in the README; a bare `::test_name` belongs to the file named last before it (as
    the reliability table writes them)."""
    found, current = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        for file, name in re.findall(r"`(?:((?:\w+/)*test_\w+\.py))?::(test_\w+)", line):
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
    (tmp_path / ".venv").symlink_to(TAP_VENV, target_is_directory=True)
    env = {**os.environ, "PATH": plain_path()}
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
        verb = shlex.split(command)[1]
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
    # The README puts `source-audience` on PATH for PyAirbyte: the tap's venv, nothing else.
    env = {**os.environ, "PATH": f"{TAP_VENV / 'bin'}{os.pathsep}{plain_path()}"}
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
