"""``python -m forewarn``: the ``forewarn`` command line (the same as the ``forewarn`` script)."""

from forewarn.cli.main import run

if __name__ == "__main__":
    run()
