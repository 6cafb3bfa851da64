"""docs/settings.md against the environment variables the code reads.

The reference is written for people, so it is kept by hand; this test keeps it
true. It reads the project's source with `ast` (nothing is imported or run)
and collects every environment variable read: `env.int("NAME", default=...)`
and the other django-environ readers in the settings, `os.environ.get`,
`os.environ[...]` and `os.getenv` anywhere else (config/gunicorn.py). It fails
when a variable is read but has no row in the reference, when a row names a
variable nothing reads, or when a literal default in the code is not the one
the row states.
"""

import ast
import operator
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "settings.md"
# Tests and tooling read variables of their own (FUZZ_*, POSTGRES_URL, ...):
# docs/development.md has those. Everything else that ships is scanned.
NOT_SHIPPED = {"tests", "bench", "docs", "requirements"}
# os.environ.setdefault writes (DJANGO_SETTINGS_MODULE in manage.py, wsgi.py).
ENVIRON_READS = {"get", "pop"}
MISSING = object()
ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


@dataclass(frozen=True)
class Read:
    name: str
    # The literal default, or MISSING when there is none or it is computed.
    default: object
    where: str


def test_every_variable_the_code_reads_is_in_the_reference():
    documented = _documented()
    read = {r.name for r in _reads()}

    undocumented = sorted(read - documented.keys())
    assert not undocumented, f"read by the code, missing from docs/settings.md: {undocumented}"


def test_every_variable_in_the_reference_is_read_by_the_code():
    documented = _documented()
    read = {r.name for r in _reads()}

    stale = sorted(documented.keys() - read)
    assert not stale, f"in docs/settings.md, read by nothing: {stale}"


def test_the_reference_states_each_literal_default():
    documented = _documented()
    wrong = [
        f"{r.name}: the code ({r.where}) says {_shown(r.default)}, the row says "
        f"{documented[r.name]!r}"
        for r in _reads()
        if r.default is not MISSING
        and r.name in documented
        and f"`{_shown(r.default)}`" not in documented[r.name]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_reader_finds_every_way_of_reading_the_environment():
    # The checks above are only as good as this collector: a kind of read it
    # missed would never need documenting.
    source = (
        "import os\n"
        'A = env.int("A_INT", default=2 * 5)\n'
        'B = env.bool("B_BOOL", default=False)\n'
        'C = env.str("C_STR", "x")\n'
        'D = env("D_CALL")\n'
        'E = env.float("E_FLOAT", default=F * 2)\n'
        'G = os.environ.get("G_GET", "-")\n'
        'H = os.environ["H_ITEM"]\n'
        'I = os.getenv("I_GETENV")\n'
        'os.environ.setdefault("NOT_A_READ", "x")\n'
        "J = env.db_url_config(URL)\n"
    )

    found = {r.name: r.default for r in _reads_in(source, "example.py")}

    assert found == {
        "A_INT": 10,
        "B_BOOL": False,
        "C_STR": "x",
        "D_CALL": MISSING,
        "E_FLOAT": MISSING,
        "G_GET": "-",
        "H_ITEM": MISSING,
        "I_GETENV": MISSING,
    }


def test_the_reference_and_the_code_are_both_found():
    # A moved file or a renamed table column must not make the checks vacuous.
    assert {"DEBUG", "SECRET_KEY", "AI_PROVIDER", "BIND"} <= _documented().keys()
    assert {"DEBUG", "SECRET_KEY", "AI_PROVIDER", "BIND"} <= {r.name for r in _reads()}


def _reads() -> list[Read]:
    return [
        read
        for path in _shipped_sources()
        for read in _reads_in(path.read_text(), str(path.relative_to(ROOT)))
    ]


def _shipped_sources() -> list[Path]:
    sources = list(ROOT.glob("*.py"))
    for top in ROOT.iterdir():
        if top.is_dir() and (top / "__init__.py").exists() and top.name not in NOT_SHIPPED:
            sources += [p for p in top.rglob("*.py") if "migrations" not in p.parts]
    return sorted(sources)


def _reads_in(source: str, where: str) -> list[Read]:
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _reads_environment(node.func) and node.args:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                default = _default(node)
                reads.append(Read(name.value, default, f"{where}:{node.lineno}"))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_os_environ(node.value)
            and isinstance(node.slice, ast.Constant)
        ):
            reads.append(Read(str(node.slice.value), MISSING, f"{where}:{node.lineno}"))
    return reads


def _reads_environment(func: ast.expr) -> bool:
    # env("NAME"), env.<reader>("NAME", ...): django-environ.
    if isinstance(func, ast.Name) and func.id == "env":
        return True
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "env":
            return True
        # os.environ.get("NAME", ...), os.getenv("NAME", ...)
        if func.attr in ENVIRON_READS and _is_os_environ(func.value):
            return True
        if func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os":
            return True
    return False


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _default(call: ast.Call) -> object:
    given = [kw.value for kw in call.keywords if kw.arg == "default"] or call.args[1:2]
    if not given:
        return MISSING
    try:
        value = _literal(given[0])
    except ValueError:
        # Computed from other settings (`not DEBUG`, `2 * AI_TIMEOUT_SECONDS +
        # 60`): the reference says it in words.
        return MISSING
    # "" and []: the reference says what unset means ("none", "OpenAI's").
    return value if value not in ("", []) else MISSING


def _literal(node: ast.expr) -> object:
    """A literal, or arithmetic on literals (256 * 1024); ValueError otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List) and not node.elts:
        return []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_number(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        return ARITHMETIC[type(node.op)](_number(node.left), _number(node.right))
    raise ValueError(ast.dump(node))


def _number(node: ast.expr) -> float:
    value = _literal(node)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(ast.dump(node))
    return value


def _shown(default: object) -> str:
    """A default as the reference writes it: what one would set the variable to."""
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def _documented() -> dict[str, str]:
    """Each variable in the reference's tables, with the rest of its row."""
    rows: dict[str, str] = {}
    for line in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2:
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]):
            assert name not in rows, f"{name} has two rows in docs/settings.md"
            rows[name] = " | ".join(cells[1:])
    return rows
