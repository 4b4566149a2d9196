#!/usr/bin/env bash
# Run the tests: `bash scripts/test.sh [pytest args]`. Installs on first use.
# PostgreSQL tests run when TEST_DATABASE_URL is set (.ci/run sets it), and are skipped with a reason otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
exec .venv/bin/python -m pytest "$@"
