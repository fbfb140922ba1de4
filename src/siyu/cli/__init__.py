"""Command line edge (Typer)."""
