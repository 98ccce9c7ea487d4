"""``python -m app`` runs the ``rag`` command."""

from app.cli.commands import main

main()
