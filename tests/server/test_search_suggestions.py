"""GET /api/search says "No documents match" and what to try, without giving away words of
documents the caller may not read."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server


def _search(server: Server, persona: str, q: str) -> dict[str, Any]:
    reply = server.client.get("/api/search", params={"q": q}, headers=server.as_(persona))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_a_query_that_matches_nothing_says_so(server: Server) -> None:
    found = _search(server, "ann", "zzqx flurbl")
    assert found["hits"] == [] and found["message"] == "No documents match"
    assert found["suggestions"] == []
    matched = _search(server, "ann", "refunds")
    assert matched["hits"] and matched["message"] is None and matched["suggestions"] == []


def test_a_misspelt_word_is_suggested_from_readable_documents(server: Server) -> None:
    found = _search(server, "ann", "rfunds")
    assert found["hits"] == []
    assert "refunds" in found["suggestions"]
    rerun = _search(server, "ann", found["suggestions"][0])
    assert rerun["hits"]


def test_a_word_that_matches_nothing_is_dropped_from_the_suggestion(server: Server) -> None:
    found = _search(server, "ann", "zzqx refunds")
    if found["hits"]:  # "refunds" matched: a query with one good word is a match
        assert found["message"] is None
        return
    assert "refunds" in found["suggestions"]


def test_suggestions_never_show_a_word_only_an_unreadable_document_has(server: Server) -> None:
    # "exceptions" is only in the leads' document: carol (a lead) is told, ann is not
    carol = _search(server, "carol", "exeptions")
    ann = _search(server, "ann", "exeptions")
    assert any("exceptions" in s for s in carol["suggestions"]), carol
    assert ann["hits"] == [] and not any("exception" in s.lower() for s in ann["suggestions"]), ann
