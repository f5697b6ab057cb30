"""The REST API: ``create_app`` in :mod:`forewarn.serve.api.app`, one router module per resource."""
