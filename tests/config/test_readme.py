"""The README's walk-through, run as a newcomer would run it.

The shell block under "A walk through the API" runs in bash against the app
under gunicorn, on a database of its own. Its comments are promises: every
JSON member they quote (`"remaining_tokens": 3700`) must be in what the block
prints, in the order the comments quote them, and so must every
`prints <value>`. A README that says the wrong balance fails here.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CI
from tests.server import live_server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## A walk through the API"
LOCAL_URL = "http://127.0.0.1:8000"
MEMBER = re.compile(r'"(\w+)": ("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)')
PRINTS = re.compile(r"\bprints (\S+?)[;,.]?(?:\s|$)")
BASH = shutil.which("bash")

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(
        not (BASH and shutil.which("curl") and shutil.which("jq")) and not CI,
        reason="the walk-through needs bash, curl and jq (apt-get install curl jq)",
    ),
]


def test_the_walk_through_runs_and_its_comments_tell_the_truth(tmp_path):
    script = walk_through()
    assert LOCAL_URL in script, "the walk-through no longer talks to `make run`'s address"

    with live_server(tmp_path, workers=1, threads=4) as server:
        run = subprocess.run(
            [BASH, "-euo", "pipefail", "-c", script.replace(LOCAL_URL, server.url)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )

    assert run.returncode == 0, run.stdout
    printed = _normalised(run.stdout)
    position = 0
    for promise in promises(script):
        found = printed.find(promise, position)
        assert found >= 0, f"the README promises {promise} here; the server printed:\n{run.stdout}"
        position = found + len(promise)


def test_the_promises_are_read_from_the_comments():
    script = (
        '# Chat: 201 {"id": …, "message": "Hello!", "remaining_tokens": 3900}\n'
        'curl -s $API/balance/  # {"tokens": 3900, "ok": true}\n'
        'echo \'{"not": "a comment"}\'\n'
        "# Log out: prints 204; gone\n"
    )

    assert promises(script) == [
        '"message":"Hello!"',
        '"remaining_tokens":3900',
        '"tokens":3900',
        '"ok":true',
        "204",
    ]


def walk_through() -> str:
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    block = re.search(r"```sh\n(.*?)```", text[text.index(SECTION) :], re.DOTALL)
    assert block, "the walk-through has no ```sh block"
    return block.group(1)


def promises(script: str) -> list[str]:
    """What the comments say the block prints, in their order."""
    found = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment = stripped
        elif "  # " in line:
            comment = line.split("  # ", 1)[1]
        else:
            continue
        matches = [(m.start(), f'"{m[1]}":{m[2]}') for m in MEMBER.finditer(comment)]
        matches += [(m.start(), m[1]) for m in PRINTS.finditer(comment)]
        found += [promise for _, promise in sorted(matches)]
    return found


def _normalised(output: str) -> str:
    # The API prints compact JSON, jq and the event stream put a space after
    # the colon; the promises are compared without it.
    return re.sub(r'"\s*:\s*', '":', output)
