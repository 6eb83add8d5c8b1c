"""Remote sources: connectors (website, mailbox, database) registered by short name.

Each connector module registers its factory in :data:`CONNECTORS`; the factory takes the source's
settings as keyword arguments (what ``docket sources add TYPE ...`` stored) and returns a
:class:`~docket.ingest.sources.base.Connector`.
"""

from __future__ import annotations

from docket.ingest.sources.base import Connector, Fetched, Listing, TicketDesk
from docket.registry import Registry

__all__ = ["CONNECTORS", "Connector", "Fetched", "Listing", "TicketDesk"]

CONNECTORS: Registry[Connector] = Registry("connector", "docket.connectors")
