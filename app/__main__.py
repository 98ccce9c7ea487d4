"""``python -m app`` runs the ``rag`` command."""

from app.cli import main

main()
