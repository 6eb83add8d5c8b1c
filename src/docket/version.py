"""The version of Docket, importable without the root package (and its lazy public names)."""

__version__ = "0.1.0"
