"""Slack listeners (thin) and the pure rules they call."""
