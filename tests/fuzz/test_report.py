"""tests/fuzz/report.py: a failed fuzz run's assertion carries what it found."""

from tests.fuzz.report import REPORT_TAIL, failures_of

RULE = "=" * 30
FAILED = f"""\
 ✅  Fuzzing (in 47.97s)

{RULE} FAILURES {RULE}
{"_" * 20} POST /api/v1/chat/ {"_" * 20}
1. Test Case ID: abc123

- Server error

[500] Internal Server Error:

Reproduce with:

    curl -X POST http://127.0.0.1:1/api/v1/chat/

{RULE} ERRORS {RULE}
{"_" * 20} GET /api/v1/balance/ {"_" * 20}
Network Error
{RULE} WARNINGS {RULE}

Missing test data: 2 operations repeatedly returned 404 Not Found

{RULE} SUMMARY {RULE}

Failures:
  ❌ Server error: 1
"""


def test_the_failures_and_errors_sections_and_nothing_after_them() -> None:
    found = failures_of(FAILED)

    assert found.startswith(f"{RULE} FAILURES {RULE}")
    assert "- Server error" in found
    assert "curl -X POST http://127.0.0.1:1/api/v1/chat/" in found
    assert "Network Error" in found
    assert "Missing test data" not in found
    assert "Fuzzing" not in found


def test_errors_alone_are_found() -> None:
    report = FAILED[FAILED.index(f"{RULE} ERRORS") :]

    assert failures_of(report).startswith(f"{RULE} ERRORS {RULE}")
    assert "Network Error" in failures_of(report)


def test_a_report_without_either_gives_its_tail() -> None:
    report = "x" * REPORT_TAIL + "Error: the schema could not be loaded"

    assert failures_of(report) == report[-REPORT_TAIL:]
    assert failures_of(report).endswith("could not be loaded")
