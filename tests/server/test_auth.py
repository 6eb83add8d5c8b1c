"""Who a caller is decides the Access every retrieval gets."""

from __future__ import annotations

from docket.server.accounts import User
from docket.server.auth import Caller
from docket.types import Access

ADMIN = User(1, "admin@example.com", "", "admin")
ANN = User(2, "ann@example.com", "", "member")


def test_an_unscoped_admin_reads_everything() -> None:
    assert Caller(ADMIN, None).access() == Access.owner()


def test_a_scoped_admin_key_reads_its_workspaces_past_access_lists() -> None:
    access = Caller(ADMIN, ("hr",), via="key").access()
    assert access.workspaces == ("hr",) and access.all_documents


def test_a_member_reads_their_workspaces_as_their_principals() -> None:
    access = Caller(ANN, ("support",), groups=("leads",)).access()
    assert access == Access(workspaces=("support",), principals=("user:ann@example.com", "group:leads"))
    assert not access.all_documents


def test_narrowing_to_a_workspace_keeps_the_principals() -> None:
    access = Caller(ANN, ("support", "hr"), groups=("leads",)).access("hr")
    assert access.workspaces == ("hr",) and "group:leads" in access.principals
