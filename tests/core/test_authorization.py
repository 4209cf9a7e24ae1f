"""The authorization rule: scopes (all), claims (one accepted value each), groups and roles
(one of each); the 403 answer for browsers and code."""

from __future__ import annotations

import json

from thunderid_mw.core.authorization import Requirement, forbidden, unmet

USER = {
    "sub": "user-alice",
    "email": "alice@example.test",
    "email_verified": True,
    "groups": ["staff", "readers"],
    "roles": "editor viewer",
    "tenant": 7,
    "name": "Alice Liddell",
}
SCOPES = ("openid", "profile", "orders:read")


def test_an_empty_requirement_is_met() -> None:
    assert unmet(Requirement(), {}, ()) == []


def test_scopes_are_all_required() -> None:
    assert unmet(Requirement.of(scopes="orders:read"), USER, SCOPES) == []
    assert unmet(Requirement.of(scopes=["orders:read", "orders:write", "admin"]), USER, SCOPES) == [
        "scope admin",
        "scope orders:write",
    ]
    assert unmet(Requirement.of(scopes="profile"), USER, ()) == ["scope profile"]


def test_claims_need_one_accepted_value_or_presence() -> None:
    assert unmet(Requirement.of(claims={"email": ["x@y", "alice@example.test"]}), USER, ()) == []
    assert unmet(Requirement.of(claims={"email_verified": "true", "tenant": "7"}), USER, ()) == []
    assert unmet(Requirement.of(claims={"email": ()}), USER, ()) == []
    assert unmet(Requirement.of(claims={"name": "Alice Liddell"}), USER, ()) == []
    assert unmet(Requirement.of(claims={"name": "Alice"}), USER, ()) == ["claim name"]
    assert unmet(Requirement.of(claims={"email": "bob@example.test"}), USER, ()) == ["claim email"]
    assert unmet(Requirement.of(claims={"phone_number": ()}), USER, ()) == ["claim phone_number"]
    assert unmet(Requirement.of(claims={"email_verified": ()}), {"email_verified": False}, ()) == [
        "claim email_verified"
    ]


def test_groups_and_roles_need_one_membership_from_list_or_string_claims() -> None:
    assert unmet(Requirement.of(groups=["admins", "staff"], roles="viewer"), USER, ()) == []
    assert unmet(Requirement.of(groups="admins", roles=["admin", "owner"]), USER, ()) == [
        "group (admins)",
        "role (admin or owner)",
    ]
    assert unmet(Requirement.of(groups="staff"), {"sub": "x"}, ()) == ["group (staff)"]


def test_group_and_role_claim_names_can_be_chosen() -> None:
    user = {"https://example.test/roles": ["admin"]}
    requirement = Requirement.of(roles="admin", roles_claim="https://example.test/roles")
    assert unmet(requirement, user, ()) == []
    assert unmet(Requirement.of(roles="admin"), user, ()) == ["role (admin)"]


def test_forbidden_is_json_for_code_and_a_page_with_a_way_back_for_browsers() -> None:
    api = forbidden(["scope admin"], api=True)
    assert api.status == 403
    assert json.loads(api.body) == {
        "error": "forbidden",
        "message": "You are signed in but not allowed to see this page. Missing: scope admin.",
    }
    assert ("Content-Type", "application/json") in api.headers
    page = forbidden(["claim <email>"], api=False, mount="/app")
    assert page.status == 403
    assert b'href="/app/"' in page.body
    assert b"claim &lt;email&gt;" in page.body  # escaped
    assert ("Cache-Control", "no-store") in page.headers
