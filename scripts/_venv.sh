# Sourced by the scripts beside it: make .venv with the project installed (extras in $1), once per change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
extras=${1:-}
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Exact versions and hashes from the lock file (what CI tested); the project itself on top, no deps.
# Refresh the locks after changing dependencies: see the README, "Locked installs".
lock="requirements${extras:+-$extras}.lock"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
  .venv/bin/python -m pip install --quiet --no-deps -e .
  touch "$stamp"
fi
