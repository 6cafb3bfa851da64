"""What of schemathesis's report a failed fuzz run repeats in its assertion."""

# How much of the report to repeat when it holds neither failures nor errors
# (schemathesis stopped before any test ran, say).
REPORT_TAIL = 4_000
FIRST = (" FAILURES ", " ERRORS ")
AFTER = (" WARNINGS ", " SUMMARY ")


def failures_of(report: str) -> str:
    """The FAILURES and ERRORS sections of schemathesis's report, or its tail.

    Its sections open with a line of "=" around their name (an operation's
    failures with "_"): what a run found lies between the first of FAILURES
    and ERRORS and the first of WARNINGS and SUMMARY.
    """
    lines = report.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("=")]
    starts = [i for i in headers if any(name in lines[i] for name in FIRST)]
    if not starts:
        return report[-REPORT_TAIL:]
    ends = [i for i in headers if i > starts[0] and any(name in lines[i] for name in AFTER)]
    return "\n".join(lines[starts[0] : ends[0] if ends else len(lines)])
