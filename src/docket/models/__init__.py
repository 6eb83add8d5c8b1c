"""Model backends. Embedders live in :mod:`docket.models.embedders`."""
