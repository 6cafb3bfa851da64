"""Headless Chromium (Debian's package) for the tests that load pages in a real browser."""

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium tries hosts outside this
# machine at start; the tests touch loopback only.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def dump_dom(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load `url`, let its scripts run, and print the DOM (stdout)."""
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'chromium'}",
            *extra,
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
