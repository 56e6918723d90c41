"""``python -m bot`` runs the ``tipline`` command line."""

from bot.cli import main

main()
