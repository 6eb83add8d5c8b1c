"""The one mechanism for background work: items in a table of the record database
(:class:`docket.records.Records`, a SQLite file or a PostgreSQL schema) that a worker claims,
leases while it works on them, and marks done or failed.

:class:`LeaseQueue` serves the queues (the server's upload jobs, its workflow runs, and the
``jobs`` of ``docket worker`` in the index schema): claim the oldest item or a batch of them,
renew the lease while working, report progress, finish or fail it, retry with backoff where the
table counts attempts, hand back what a stopping worker did not start, wake idle workers with
``NOTIFY`` on PostgreSQL, and on start give back what a stopped worker left.
:class:`Recurring` serves rows that come due again and again (workflow schedules and the periodic
jobs such as the source syncs): each due time is claimed by exactly one of the servers sharing
the records, then its outcome is recorded.

Each kind of work names its table and columns with a :class:`Table` (or
:class:`RecurringTable`), so the rows the API lists keep their tables and columns.
"""

from docket.work.queue import LeaseQueue, Table, renewing
from docket.work.recurring import Recurring, RecurringTable

__all__ = ["LeaseQueue", "Recurring", "RecurringTable", "Table", "renewing"]
