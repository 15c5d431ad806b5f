"""Replay: history driven through the same code as live (issue 19)."""
