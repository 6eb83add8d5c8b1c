"""Who a caller is decides the Access every retrieval gets."""

from __future__ import annotations

from docket.accounts import User
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


def test_a_member_may_read_a_document_naming_them_or_their_group_and_nothing_outside_their_workspaces() -> None:
    from docket.accounts import Principal

    ann = Principal(ANN, ("support",), groups=("leads",))
    assert ann.may_read((), "support")
    assert ann.may_read(("user:ann@example.com",), "support") and ann.may_read(("group:leads",), "support")
    assert not ann.may_read(("user:bob@example.com", "group:hr"), "support")
    assert not ann.may_read((), "hr")  # not her workspace: no access list lets her in
    assert Principal(ADMIN, None).may_read(("user:bob@example.com",), "hr")


def test_an_access_list_entry_is_user_or_group_and_the_message_says_so() -> None:
    import pytest

    from docket.accounts.principal import check_access_list
    from docket.errors import UserError

    assert check_access_list(["user:ann@example.com", "group:leads"]) == ("user:ann@example.com", "group:leads")
    for bad in ("ann@example.com", "team:leads", "group:"):
        with pytest.raises(UserError, match=f"--access {bad}: write user:EMAIL or group:NAME"):
            check_access_list([bad])
