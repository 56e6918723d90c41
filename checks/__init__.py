"""The verification engine: pure, synchronous image science. Knows nothing of Telegram or SQL."""
