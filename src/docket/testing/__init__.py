"""The behaviour every storage backend must have, as test suites a backend's own tests inherit.

Docket's stores prove themselves with these suites, and so can a third one (as haystack's
document-store tests do). Each suite is a class of pytest tests over one fixture; a backend's test
class inherits it and provides only the fixture::

    import pytest
    from docket.testing import DocumentIndexContract, LedgerContract

    class TestMyIndex(DocumentIndexContract):
        @pytest.fixture
        def store(self, tmp_path):
            index = MyIndex(tmp_path / "my.index")  # a fresh, empty index for every test
            yield index
            index.close()

    class TestMyLedger(LedgerContract):  # where the backend keeps the bookkeeping itself
        @pytest.fixture
        def ledger(self, tmp_path):
            ...

The suites:

- :class:`DocumentIndexContract`: a :class:`~docket.protocols.DocumentIndex` (fixture ``store``):
  documents and chunks, atomic replacement, keyword (normalised BM25) and vector search, metadata
  filters and :class:`~docket.types.Access` applied inside both retrievers, the generation number.
- :class:`ReembeddingContract`: an index that is also a :class:`~docket.protocols.Reembedding`
  (``docket reindex``): the swap replaces every vector at once, or none.
- :class:`LedgerContract`: a :class:`~docket.ledger.Ledger` (fixture ``ledger``): sources,
  failures, the answer log, spending, conversations, sentence vectors.
- :class:`StoreContract`: all of the above for a store that keeps its ledger in its own database
  (fixture ``store``, the ledger being ``store.ledger``), and syncing a folder through both.

A backend registers its factory in :data:`docket.index.STORES` (entry point group
``docket.stores``); with these suites green it can be named in ``docket.toml``. The suites need
pytest (``pip install 'docket[test]'``); importing :mod:`docket` never imports this package.
"""

from __future__ import annotations

from docket.testing.helpers import DIM, make_doc, put, vec
from docket.testing.index import DocumentIndexContract, ReembeddingContract
from docket.testing.ledger import LedgerContract
from docket.testing.store import StoreContract

__all__ = [
    "DIM",
    "DocumentIndexContract",
    "LedgerContract",
    "ReembeddingContract",
    "StoreContract",
    "make_doc",
    "put",
    "vec",
]
