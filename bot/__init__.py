"""SLA Desk: a partner support desk run inside Slack."""
