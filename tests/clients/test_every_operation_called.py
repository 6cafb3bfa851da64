"""The programs of `make clients` call every operation schema.yml has.

Read from their source, so this runs with the suite (no server, nothing
generated): an operation added to the API fails here until both programs
call it, and `make clients` then checks what they make of its answers.
Python calls an operation through its generated module
(`v1_keys_create.sync_detailed(...)`); TypeScript through openapi-fetch, by
method and path (`api.POST("/api/v1/keys/", ...)`).
"""

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
CALLS = {"sync_detailed", "sync", "asyncio_detailed", "asyncio"}
METHODS = {"get", "post", "put", "patch", "delete"}
TYPESCRIPT_CALL = re.compile(r"\bapi\.(GET|POST|PUT|PATCH|DELETE)\(\s*\"([^\"]+)\"")


def operations() -> dict[tuple[str, str], str]:
    """(method, path) -> operationId, for every operation of schema.yml."""
    schema = yaml.safe_load((ROOT / "schema.yml").read_text())
    return {
        (method, path): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def python_calls(source: str) -> set[str]:
    """The operations a module calls (or hands on, as to functools.partial)."""
    return {
        node.value.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr in CALLS
        and isinstance(node.value, ast.Name)
    }


def typescript_calls(source: str) -> set[tuple[str, str]]:
    return {(method.lower(), path) for method, path in TYPESCRIPT_CALL.findall(source)}


def sources(folder: Path, pattern: str) -> str:
    return "\n".join(path.read_text() for path in sorted(folder.glob(pattern)))


def test_the_python_program_calls_every_operation():
    called = python_calls(sources(CLIENTS / "python", "*.py"))

    assert set(operations().values()) - called == set()


def test_the_typescript_program_calls_every_operation():
    called = typescript_calls(sources(CLIENTS / "typescript", "*.ts"))

    missing = {operation for key, operation in operations().items() if key not in called}
    assert missing == set()
    assert called <= set(operations()), "a call to an operation schema.yml does not have"


def test_the_readers_find_calls_and_only_calls():
    python = (
        "from chat_api_client.api.keys import v1_keys_create, v1_keys_list\n"
        "v1_keys_create.sync_detailed(client=client, body=body)\n"
        "partial(v1_chat_create.sync_detailed, client=client)\n"
        "print(v1_keys_list)\n"
    )
    typescript = (
        'await api.GET("/v1/models/{model}", { headers });\n'
        'const x = await api.DELETE(\n  "/api/v1/keys/{id}/",\n  { headers });\n'
        '// "/api/v1/usage/" is not called\n'
    )

    assert python_calls(python) == {"v1_keys_create", "v1_chat_create"}
    assert typescript_calls(typescript) == {
        ("get", "/v1/models/{model}"),
        ("delete", "/api/v1/keys/{id}/"),
    }
