"""``python -m forewarn.serve``: the ``forewarn serve`` command on its own."""

import typer

from forewarn.cli.serve import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":
    app()
