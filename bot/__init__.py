"""Composition root: settings, logging, the application factory and the ``tipline`` CLI."""
