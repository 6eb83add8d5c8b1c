"""Who is calling: a :class:`Caller` is the :class:`~docket.accounts.principal.Principal` a
request authenticated as, with the web session's CSRF token.

A request is authenticated by an API key (``Authorization: Bearer dk_...``) or by the web app's
session cookie; a cookie-authenticated request that changes something must echo the session's
CSRF token in the ``X-CSRF-Token`` header. :meth:`Caller.access` is the
:class:`~docket.types.Access` every retrieval receives — permissions are applied inside the
store's queries, never to results afterwards. Roles and the access-list rule are described in
:mod:`docket.accounts.principal`; sign-in lockouts are :class:`RateLimiter` s.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, fields

from docket.accounts.principal import Principal

__all__ = ["Caller", "RateLimiter"]


@dataclass(frozen=True)
class Caller(Principal):
    csrf: str | None = None  # the session's CSRF token (signed in with a cookie)

    @classmethod
    def of(cls, principal: Principal, csrf: str | None = None) -> Caller:
        return cls(**{f.name: getattr(principal, f.name) for f in fields(Principal)}, csrf=csrf)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key (an email, a visitor's address)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record an event; False when the key is over its limit (the event is not recorded)."""
        now = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def blocked(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            events = self._events.get(key) or deque()
            return len([t for t in events if t > now - self.window]) >= self.limit

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
