"""deploy/: the nginx and systemd files docs/deployment.md shows are the
shipped ones, and systemd accepts the units. (make cluster-test runs the
nginx proxy settings in front of real app servers.)"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GUIDE = ROOT / "docs" / "deployment.md"
SHOWN = [
    "nginx/chat-api.conf",
    "nginx/chat-api-proxy.conf",
    "systemd/chat-api.service",
    "systemd/chat-api-release.service",
    "systemd/chat-api-job@.service",
    "systemd/chat-api-sweeper.timer",
    "systemd/chat-api-grant-monthly-allowances.timer",
]


@pytest.mark.parametrize("name", SHOWN)
def test_the_guide_shows_the_shipped_file(name):
    assert (DEPLOY / name).read_text().rstrip() in GUIDE.read_text()


def test_every_timer_starts_a_job_the_template_runs():
    for timer in (DEPLOY / "systemd").glob("*.timer"):
        unit = next(
            line.split("=", 1)[1]
            for line in timer.read_text().splitlines()
            if line.startswith("Unit=")
        )
        assert unit.startswith("chat-api-job@"), timer.name
        assert unit.endswith(".service"), timer.name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    units = sorted((DEPLOY / "systemd").iterdir())
    for unit in units:
        shutil.copy(unit, tmp_path / unit.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u.name) for u in units)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # The release's files are not installed here; anything else is an error.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line and "/srv/chat-api/.venv/bin/" not in line
    ]
    assert problems == []
