"""The ``pigeon`` command run in-process (Typer's CliRunner) against a test database."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pigeon.cli import app
from tests.conftest import TEST_SECRET_KEY


def cli_runner(data_dir: Path, database_url: str, **settings: str):
    """``run(*args, code=0, stdin=None)``: invoke ``pigeon`` with the test database and key
    (and any extra ``PIGEON_*``/``COLUMNS`` variables in ``settings``), assert its exit
    status, return the result; ``run.env`` is the environment it used."""
    env = {"PIGEON_DATA_DIR": str(data_dir), "PIGEON_DATABASE_URL": database_url,
           "PIGEON_SECRET_KEY": TEST_SECRET_KEY.reveal(), **settings}
    runner = CliRunner()

    def run(*args, code: int = 0, stdin: str | None = None):
        result = runner.invoke(app, [str(a) for a in args], env=env, input=stdin)
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    run.env = env
    return run
