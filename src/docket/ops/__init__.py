"""Operations on a whole knowledge base, run from the command line: ``copy`` moves one into
PostgreSQL without re-embedding (``docket db copy``), ``backup`` writes and restores one checked
archive of it (``docket backup`` / ``docket restore``).

This layer sits above workflows and the knowledge base (copying a home copies the review queue
and the server's records too) and below the server and the command line, which call it.
"""
