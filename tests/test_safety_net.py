"""The suite's configuration makes failures nobody catches fail their test.

Each case runs pytest in a subprocess, with this project's configuration, on a tiny generated
test whose failure happens where pytest would otherwise only warn: in a helper thread, in a
``__del__``, in a warning of Pigeon's own code.  The inner run must fail; the same run with the
warning filters emptied must pass, so it is the configuration that makes the difference.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"

# case → (the inner test, what its failure must say)
CASES = {
    "thread": ("""
        import threading

        def test_a_helper_thread_raises():
            def helper():
                raise RuntimeError("boom in a helper thread")

            thread = threading.Thread(target=helper)
            thread.start()
            thread.join()
    """, "PytestUnhandledThreadExceptionWarning"),
    "unraisable": ("""
        import gc

        class Leaky:
            def __del__(self):
                raise RuntimeError("boom in __del__")

        def test_an_exception_nobody_can_catch():
            Leaky()
            gc.collect()
    """, "PytestUnraisableExceptionWarning"),
    "pigeon_warning": ("""
        import warnings

        def test_pigeon_warns():
            warnings.warn_explicit("careful", UserWarning, "pigeon/services/sending.py", 1,
                                   module="pigeon.services.sending")
    """, "UserWarning: careful"),
}


def run_inner(tmp_path: Path, source: str, *options: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_inner.py"
    test.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(PYPROJECT), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", "-q", *options, str(test)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_failure_pytest_would_only_warn_about_fails_the_test(tmp_path, case):
    source, said = CASES[case]
    inner = run_inner(tmp_path, source)
    assert inner.returncode == 1, inner.stdout + inner.stderr
    assert "1 failed" in inner.stdout and said in inner.stdout, inner.stdout

    without_filters = run_inner(tmp_path, source, "-o", "filterwarnings=")
    assert without_filters.returncode == 0, without_filters.stdout + without_filters.stderr
    assert "1 passed" in without_filters.stdout


def test_a_warning_of_another_package_stays_a_warning(tmp_path):
    inner = run_inner(tmp_path, """
        import warnings

        def test_someone_else_warns():
            warnings.warn_explicit("careful", UserWarning, "pigeonhole.py", 1,
                                   module="pigeonhole")
    """)
    assert inner.returncode == 0, inner.stdout + inner.stderr
