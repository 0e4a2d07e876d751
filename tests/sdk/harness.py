"""A tiny check runner shared by the SDK compatibility scripts: every check runs, every
failure is printed with its traceback, and the last line is "N passed, M failed"."""

import sys
import traceback

results = []


def check(name):
    """Registers and runs the decorated function as the check `name`."""

    def register(fn):
        try:
            fn()
            results.append((name, None))
        except Exception:  # noqa: BLE001 - every failure is reported, none hides another
            results.append((name, traceback.format_exc()))
        return fn

    return register


def report():
    """Prints the results and exits non-zero if any check failed."""
    for name, failure in results:
        print(("ok     " if failure is None else "FAILED ") + name)
        if failure:
            print(failure)
    passed = sum(1 for _, f in results if f is None)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
