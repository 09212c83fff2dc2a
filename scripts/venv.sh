# Sourced by scripts/serve and scripts/test: makes ./.venv and keeps it in step with
# pyproject.toml, so a fresh machine needs only Python 3.11+ and the package registry.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="${PIGEON_VENV_EXTRAS:-test}"
stamp="$venv/.pigeon-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1) $extras"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e "$root[$extras]"
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
