"""The ``forewarn`` command line (Typer). Entry point: :func:`forewarn.cli.main.run`."""
