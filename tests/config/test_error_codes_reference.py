"""docs/api.md's error table against the error codes the project defines.

Clients branch on `code`, so every code our own exceptions can answer with
must be in the table, with the status it comes with. The codes are read from
the shipped source with `ast`: `default_code = "..."` in an exception class
(with its `status_code` when the class sets one), and
`ErrorDetail(..., code="...")`. Codes DRF and SimpleJWT define
(`not_authenticated`, `token_not_valid`, ...) are documented by hand.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "api.md"
NOT_SHIPPED = {"tests", "bench", "docs", "requirements"}


@dataclass(frozen=True)
class Code:
    code: str
    status: int | None
    where: str


def test_every_error_code_the_project_defines_is_in_the_table():
    rows = _table()
    documented = {code for _, codes in rows for code in codes}

    missing = sorted(f"{c.code} ({c.where})" for c in _codes() if c.code not in documented)
    assert not missing, f"error codes missing from docs/api.md's table: {missing}"


def test_each_code_is_documented_with_its_status():
    rows = _table()
    wrong = [
        f"{c.code} ({c.where}) is {c.status}, docs/api.md does not say so"
        for c in _codes()
        if c.status is not None and not any(c.code in codes and c.status == s for s, codes in rows)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_reader_finds_both_ways_of_defining_a_code():
    source = (
        "class Busy(APIException):\n"
        "    status_code = 409\n"
        '    default_code = "busy"\n'
        "class Big(APIException):\n"
        "    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE\n"
        '    default_code = "big"\n'
        "class Gone(NotFound):\n"
        '    default_code = "gone"\n'
        'ErrorDetail("Wrong", code="wrong")\n'
    )

    found = {(c.code, c.status) for c in _codes_in(source, "example.py")}

    assert found == {("busy", 409), ("big", 413), ("gone", None), ("wrong", None)}


def test_the_table_and_the_codes_are_both_found():
    assert {"insufficient_tokens", "provider_error"} <= {c.code for c in _codes()}
    assert any(status == 402 and "insufficient_tokens" in codes for status, codes in _table())


def _codes() -> list[Code]:
    sources = list(ROOT.glob("*.py"))
    for top in ROOT.iterdir():
        if top.is_dir() and (top / "__init__.py").exists() and top.name not in NOT_SHIPPED:
            sources += [p for p in top.rglob("*.py") if "migrations" not in p.parts]
    return [
        code
        for path in sorted(sources)
        for code in _codes_in(path.read_text(), str(path.relative_to(ROOT)))
    ]


def _codes_in(source: str, where: str) -> list[Code]:
    codes = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            attributes = {
                target.id: statement.value
                for statement in node.body
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
            code = attributes.get("default_code")
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                status = _status(attributes.get("status_code"))
                codes.append(Code(code.value, status, f"{where}:{node.lineno}"))
        elif isinstance(node, ast.Call) and _name(node.func) == "ErrorDetail":
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    codes.append(Code(str(keyword.value.value), None, f"{where}:{node.lineno}"))
    return codes


def _status(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    # status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(node, ast.Attribute) and (found := re.match(r"HTTP_(\d{3})_", node.attr)):
        return int(found[1])
    return None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _table() -> list[tuple[int, set[str]]]:
    """Each row of the error table: its status and every code it names."""
    rows = []
    for line in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[0].isdigit():
            rows.append((int(cells[0]), set(re.findall(r"`([a-z_]+)`", cells[1]))))
    return rows
