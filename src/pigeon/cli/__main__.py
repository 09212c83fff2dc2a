"""``python -m pigeon.cli``: the ``pigeon`` command (tests/test_crash.py and bench/harness.py
start the server so).

The package ``pigeon.cli`` is imported once, under its own name, before this runs: command
modules that import ``pigeon.cli.common`` get the same app the command line runs.
"""

from pigeon.cli import main

if __name__ == "__main__":
    main()
    raise SystemExit(0)
