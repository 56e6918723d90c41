"""Persistence: the repository interface, its SQLite and PostgreSQL backends, the index."""
