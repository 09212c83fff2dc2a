"""The deployment recipes in deploy/ run commands that exist, from files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigeon.cli import app

ROOT = Path(__file__).parents[1]
UNITS = sorted((ROOT / "deploy").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_a_systemd_unit_starts_a_pigeon_command(unit):
    [start] = re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.MULTILINE)
    program, *args = shlex.split(start)
    assert program == "/opt/pigeon/bin/pigeon"
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


def test_the_container_image_copies_what_exists_and_runs_pigeon():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["pigeon"]' in dockerfile
    [command] = re.findall(r"^CMD \[(.+)\]$", dockerfile, re.MULTILINE)
    args = [part.strip().strip('"') for part in command.split(",")]
    assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0
