"""The dashboard pages (see :mod:`forewarn.serve.dashboard.pages`)."""
