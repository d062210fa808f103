"""``python -m voxserve`` runs the CLI."""

from voxserve.cli import app

app()
