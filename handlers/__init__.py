"""Telegram adapters: intake, status, review and admin handlers, and card rendering."""
