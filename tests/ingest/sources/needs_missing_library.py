"""A module whose library is not installed (for the missing-extra test)."""

import docket_no_such_library  # noqa: F401
