"""Every error Docket raises on purpose.

::

    DocketError (500)                       anything Docket raises deliberately
    ├── UserError (400)                     the caller can fix it; the message says how
    │   ├── ConfigError (400)               bad docket.toml / DOCKET_* / flag value
    │   ├── UnknownBackendError (400)       a backend name nobody registered
    │   ├── PathNotFoundError (404)         a path given to ingest does not exist
    │   ├── NotFoundError (404)             a document, source or item that is not there
    │   ├── MissingExtraError (400)         an optional dependency is not installed
    │   ├── ModelNotConfiguredError (400)   an answer needs a model and none is set
    │   ├── BudgetExceededError (402)       a model call would exceed the daily or monthly budget
    │   ├── AuthError (401)                 not signed in, or the session or API key is not valid
    │   ├── ForbiddenError (403)            signed in, but the action needs another role
    │   ├── RateLimitedError (429)          too many attempts; wait and try again
    │   └── TooLargeError (413)             an upload above the size limit
    ├── ParseError (422)                    one file could not be read (reported, batch goes on)
    │   ├── UnsupportedFileError (415)      a file type Docket does not parse
    │   └── ParseWorkerError (503)          the parse worker did not start: not the file's fault
    ├── IndexMismatchError (409)            the index was built with another embedder
    ├── BusyError (503)                     the server holds all the requests it may; retry after a moment
    └── BackendError (502)                  a store or model backend failed at run time
        ├── ModelError (502)                a language model call failed (key, server, model name)
        ├── DatabaseError (502)             the database server is unreachable, refuses, or is too new
        └── SourceError (502)               a remote source (website, mailbox, database) could not be read

Each class carries ``status`` (an HTTP status) so the CLI and the server render them the same way.
Third-party exceptions are translated at the backend boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BackendError",
    "BudgetExceededError",
    "BusyError",
    "ConfigError",
    "DatabaseError",
    "DocketError",
    "ForbiddenError",
    "IndexMismatchError",
    "MissingExtraError",
    "ModelError",
    "ModelNotConfiguredError",
    "NotFoundError",
    "ParseError",
    "ParseWorkerError",
    "PathNotFoundError",
    "RateLimitedError",
    "SourceError",
    "TooLargeError",
    "UnknownBackendError",
    "UnsupportedFileError",
    "UserError",
]


class DocketError(Exception):
    """Base class of every error Docket raises deliberately."""

    status: int = 500
    code: str = "docket_error"

    def to_dict(self) -> dict[str, object]:
        """The JSON error shape used by the CLI's ``--json`` output and the server."""
        return {"error": {"code": self.code, "message": str(self), "status": self.status}}


class UserError(DocketError):
    """Something the caller can fix; the message says how."""

    status = 400
    code = "user_error"


class ConfigError(UserError):
    code = "config_error"


class UnknownBackendError(UserError):
    code = "unknown_backend"


class PathNotFoundError(UserError):
    status = 404
    code = "path_not_found"


class NotFoundError(UserError):
    status = 404
    code = "not_found"


class MissingExtraError(UserError):
    code = "missing_extra"

    def __init__(self, package: str, extra: str, purpose: str, install: str | None = None) -> None:
        """``install``: the command to run when it is not ``pip install 'docket[extra]'`` (a
        program from the system's packages, such as ``apt install tesseract-ocr``)."""
        what = "program" if install else "package"
        install = install or f"pip install 'docket[{extra}]'"
        super().__init__(f"{purpose} needs the '{package}' {what}, which is not installed. Install it with: {install}")
        self.package = package
        self.extra = extra


class AuthError(UserError):
    """Not signed in, or the session or API key is no longer valid; the message says what to do."""

    status = 401
    code = "unauthorized"


class ForbiddenError(UserError):
    """Signed in, but the action needs a role the caller does not have."""

    status = 403
    code = "forbidden"


class RateLimitedError(UserError):
    """Too many attempts in a short time."""

    status = 429
    code = "rate_limited"


class TooLargeError(UserError):
    """An upload above the configured size limit."""

    status = 413
    code = "too_large"


class ParseError(DocketError):
    """One file could not be read. Ingestion reports it and goes on with the rest."""

    status = 422
    code = "parse_error"


class UnsupportedFileError(ParseError):
    status = 415
    code = "unsupported_file"


class ParseWorkerError(ParseError):
    """The sandbox's worker process could not start, so the file was not tried: it is reported
    like any failure but not remembered as the file's own (the next sync tries it again)."""

    status = 503
    code = "parse_worker_error"


class IndexMismatchError(DocketError):
    status = 409
    code = "index_mismatch"


class BusyError(DocketError):
    """The server holds as many requests as it may (``server.max_requests``): answered at once
    with 503 and a Retry-After header rather than queued behind the others."""

    status = 503
    code = "busy"


class BackendError(DocketError):
    status = 502
    code = "backend_error"


class ModelNotConfiguredError(UserError):
    code = "model_not_configured"


class ModelError(BackendError):
    code = "model_error"


class DatabaseError(BackendError):
    code = "database_error"


class SourceError(BackendError):
    code = "source_error"


class BudgetExceededError(UserError):
    status = 402
    code = "budget_exceeded"
