"""`make clients`: the clients integrators generate from schema.yml, checked
and run against the app under gunicorn.

openapi-python-client generates a Python client and openapi-typescript the
TypeScript types (both pinned: requirements/clients.txt,
clients/typescript/package-lock.json), into clients/*/build/, which git
ignores. A small program for each (clients/python/every_operation.py and
the modules beside it, clients/typescript/every_operation.ts and
with_a_key.ts) must type-check against what was generated (mypy --strict,
tsc --strict) and then answer correctly against a live server: every
operation (test_every_operation_called.py checks that each is called), the
streamed chat's events, the cursors, an API key as the bearer on /v1/ and
/api/v1/, and the documented errors (400, 401, 402, 403, 404, 409, 422, 429,
and OpenAI's shape under /v1/).

The server gives new accounts eight chats' worth of tokens, three log-in
attempts a minute per account, and a model (tests/fake_openai.py) that takes
a second per reply, so that the programs reach 402, 429 and an
Idempotency-Key's 409 quickly; its processes share the Redis at
127.0.0.1:6379, as a deployment's do.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import Behaviour, FakeOpenAI
from tests.server import ROOT, LiveServer, live_server

pytestmark = [pytest.mark.clients, pytest.mark.live_server_process]

SCHEMA = ROOT / "schema.yml"
PYTHON = ROOT / "clients" / "python"
TYPESCRIPT = ROOT / "clients" / "typescript"
BIN = Path(sys.executable).parent
SERVER_ENV = {
    "SIGNUP_TOKENS": "800",
    "THROTTLE_LOGIN_USERNAME": "3/min",
    "AI_PROVIDER": "openai",
    "AI_API_KEY": "test-key",
    "AI_MODEL": "fake-model",
    # Shared by the server's processes, as in production: a log-out ends the
    # session's access tokens in every process, and the log-in limit counts
    # across them.
    "REDIS_URL": "redis://127.0.0.1:6379/12",  # a database of its own among the tests
}


def run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run a command to completion; fail with its output if it fails."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{result.stdout}"
    return result.stdout


@pytest.fixture(scope="module")
def python_client() -> Path:
    """The generated package, chat_api_client, in clients/python/build."""
    build = PYTHON / "build"
    shutil.rmtree(build, ignore_errors=True)
    output = run(
        BIN / "openapi-python-client",
        "generate",
        *("--path", SCHEMA, "--config", PYTHON / "config.yml"),
        *("--meta", "none", "--output-path", build / "chat_api_client"),
        # Its post-generation hooks format the code with the .venv's ruff.
        env={"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    # It warns, and leaves out what it cannot generate, rather than failing.
    assert "Warning" not in output, output
    return build


@pytest.fixture(scope="module")
def typescript_types() -> Path:
    """The generated types, clients/typescript/build/schema.d.ts."""
    if not (TYPESCRIPT / "node_modules" / ".bin" / "tsc").exists():
        pytest.fail("openapi-typescript is not installed: run `make clients`")
    build = TYPESCRIPT / "build"
    shutil.rmtree(build, ignore_errors=True)
    run(
        TYPESCRIPT / "node_modules" / ".bin" / "openapi-typescript",
        SCHEMA,
        # A request member with a default (`stream`) stays optional.
        *("--default-non-nullable", "false", "--output", build / "schema.d.ts"),
        cwd=TYPESCRIPT,
    )
    return build


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    model = FakeOpenAI(behaviour=Behaviour(delay=1.0)).start_in_thread()
    try:
        env = {**SERVER_ENV, "AI_BASE_URL": model.base_url}
        with live_server(tmp_path_factory.mktemp("clients"), workers=2, threads=4, env=env) as live:
            yield live
    finally:
        model.stop()


def test_the_program_type_checks_against_the_python_client(python_client):
    run(
        sys.executable,
        *("-m", "mypy", "--config-file", PYTHON / "mypy.ini", PYTHON / "every_operation.py"),
        env={"MYPYPATH": str(python_client)},
    )


def test_the_program_type_checks_against_the_typescript_types(typescript_types):
    # tsc --strict (tsconfig.json), which also compiles it to build/js.
    run(TYPESCRIPT / "node_modules" / ".bin" / "tsc", "--project", "tsconfig.json", cwd=TYPESCRIPT)


@pytest.mark.redis
def test_the_python_client_gets_every_operation_answered_as_documented(python_client, server):
    output = run(
        sys.executable,
        PYTHON / "every_operation.py",
        server.url,
        env={"PYTHONPATH": str(python_client)},
    )

    assert "every operation answered as schema.yml says" in output


@pytest.mark.redis
def test_the_typescript_program_gets_every_operation_answered_as_documented(
    typescript_types, server
):
    run(TYPESCRIPT / "node_modules" / ".bin" / "tsc", "--project", "tsconfig.json", cwd=TYPESCRIPT)

    output = run("node", "build/js/every_operation.js", server.url, cwd=TYPESCRIPT)

    assert "every operation answered as schema.yml says" in output
