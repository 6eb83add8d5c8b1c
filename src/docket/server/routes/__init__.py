"""The server's routes, one module per area; each exposes ``router``."""
