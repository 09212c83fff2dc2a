# Sourced by scripts/serve and scripts/test: makes ./.venv and keeps it in step with
# pyproject.toml, so a fresh machine needs only Python 3.11+ and the package registry.
# PIGEON_VENV_EXTRAS names the extras to install (scripts/test: `test`); empty, only what
# serving needs — and a venv that already has more is left as it is.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="${PIGEON_VENV_EXTRAS-test}"
stamp="$venv/.pigeon-installed"
hash="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
want="$hash $extras"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$have" != "$want" ] && { [ -n "$extras" ] || [ "${have%% *}" != "$hash" ]; }; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e "$root${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
