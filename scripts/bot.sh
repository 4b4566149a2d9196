#!/usr/bin/env bash
# Run the bot: `bash scripts/bot.sh serve` (or socket, scheduler, sla due …). Installs on first use.
# Runs in the folder you call it from, so file arguments are yours; settings come from the project's
# .env (and a .env where you are), and a relative SQLite path is the project's.
here=$PWD
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
export SLA_DESK_HOME=$PWD
cd "$here"
exec "$SLA_DESK_HOME/.venv/bin/python" -m bot "${@:-serve}"
