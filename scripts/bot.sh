#!/usr/bin/env bash
# Run the bot: `bash scripts/bot.sh serve` (or socket, scheduler, sla due …). Installs on first use.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
exec .venv/bin/python -m bot "${@:-serve}"
