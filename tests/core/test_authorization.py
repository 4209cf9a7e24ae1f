"""The authorization rule: scopes (all), claims (one accepted value each), groups and roles
(one of each); the 403 answer for browsers and code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import pytest

from thunderid_mw.core.authorization import (
    Requirement,
    StepUp,
    forbidden,
    refusal,
    step_up,
    step_up_answer,
    unmet,
)
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.session import refreshed_claims

from .driver import make_config

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


# Step-up: acr and max_age -------------------------------------------------------------------

NOW = 1_700_000_000.0
STRONG = {"sub": "user-alice", "acr": "urn:mfa", "auth_time": int(NOW) - 100}


@dataclass(frozen=True)
class Req:
    method: str = "GET"
    path: str = "/billing"
    query_string: str = "tab=cards"
    mount: str = ""
    api: bool = False

    @property
    def is_api(self) -> bool:
        return self.api


def config(**changes: Any) -> ThunderIDConfig:
    return make_config(**changes)


def test_acr_and_max_age_are_not_403_reasons() -> None:
    requirement = Requirement.of(acr="urn:hwk", max_age=10)
    assert unmet(requirement, {}, ()) == []


@pytest.mark.parametrize(
    ("requirements", "user", "need"),
    [
        ([Requirement.of(acr="urn:mfa")], STRONG, None),
        ([Requirement.of(acr=["urn:hwk", "urn:mfa"])], STRONG, None),
        ([Requirement.of(acr="urn:hwk")], STRONG, StepUp("urn:hwk")),
        ([Requirement.of(acr="urn:mfa")], {"sub": "x"}, StepUp("urn:mfa")),
        ([Requirement.of(max_age=100)], STRONG, None),
        ([Requirement.of(max_age=40)], STRONG, None),  # 100 s ago <= 40 + 60 leeway
        ([Requirement.of(max_age=30)], STRONG, StepUp(max_age=30)),
        ([Requirement.of(max_age=300)], {"sub": "x"}, StepUp(max_age=300)),
        ([Requirement.of(max_age=300)], {"auth_time": "yesterday"}, StepUp(max_age=300)),
        # JSON true is no time (as the callback reads it): not 1 s after the epoch
        ([Requirement.of(max_age=10**12)], {"auth_time": True}, StepUp(max_age=10**12)),
        (
            [Requirement.of(max_age=30), Requirement.of(max_age=10, acr="urn:hwk")],
            STRONG,
            StepUp("urn:hwk", 10),
        ),
        ([Requirement.of(scopes="x")], {}, None),
    ],
)
def test_step_up_says_what_to_ask_for(
    requirements: list[Requirement], user: dict[str, Any], need: StepUp | None
) -> None:
    assert step_up(requirements, user, now=NOW, leeway=60) == need


@pytest.mark.parametrize("bad", ['urn:"x', "a b", "", "é"])
def test_an_acr_that_cannot_be_requested_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="acr value"):
        Requirement.of(acr=bad)


@pytest.mark.parametrize("bad", [-1, True])
def test_a_negative_max_age_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="max_age"):
        Requirement.of(max_age=bad)


def test_a_browser_is_sent_to_sign_in_again_and_back() -> None:
    answer = step_up_answer(StepUp("urn:hwk urn:mfa", 300), Req(mount="/app"), config())
    assert answer.status == 302
    (location,) = [v for k, v in answer.headers if k == "Location"]
    path, _, query = location.partition("?")
    assert path == "/app/sign-in"
    assert parse_qs(query) == {
        "return_to": ["/app/billing?tab=cards"],
        "acr_values": ["urn:hwk urn:mfa"],
        "max_age": ["300"],
        "prompt": ["login"],
    }


@pytest.mark.parametrize("req", [Req(api=True), Req(method="POST")])
def test_code_gets_401_insufficient_user_authentication(req: Req) -> None:
    answer = step_up_answer(StepUp("urn:hwk", 300), req, config())
    assert answer.status == 401
    (challenge,) = [v for k, v in answer.headers if k == "WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:hwk"' in challenge and 'max_age="300"' in challenge
    if req.api:
        assert json.loads(answer.body)["error"] == "insufficient_user_authentication"


def test_max_age_alone_sends_no_acr_values() -> None:
    answer = step_up_answer(StepUp(max_age=60), Req(api=True), config())
    (challenge,) = [v for k, v in answer.headers if k == "WWW-Authenticate"]
    assert "acr_values" not in challenge and 'max_age="60"' in challenge


def test_an_acr_the_allow_list_would_drop_is_a_403_not_a_loop() -> None:
    answer = step_up_answer(StepUp("urn:hwk"), Req(), config(sign_in_acr_values=("urn:mfa",)))
    assert answer.status == 403
    assert b"sign_in_acr_values" in answer.body


def test_refusal_prefers_403_over_step_up_and_reads_the_clock_only_when_needed() -> None:
    def no_clock() -> float:
        raise AssertionError("the clock was read")

    cfg = config()
    lacking_role = [Requirement.of(roles="admin", acr="urn:hwk")]
    denied = refusal(lacking_role, STRONG, (), Req, config=cfg, now=no_clock)
    assert denied is not None and denied.status == 403
    assert (
        refusal([Requirement.of(roles="x")], {"roles": "x"}, (), Req, config=cfg, now=no_clock)
        is None
    )
    stale = refusal([Requirement.of(max_age=5)], STRONG, (), Req, config=cfg, now=lambda: NOW)
    assert stale is not None and stale.status == 302
    fresh = refusal([Requirement.of(max_age=5)], STRONG, (), Req, config=cfg, now=lambda: NOW - 100)
    assert fresh is None


def test_after_a_refresh_the_sign_in_acr_and_auth_time_are_what_is_checked() -> None:
    # ThunderID's refreshed ID token has neither: the merged claims keep the sign-in's.
    refreshed = refreshed_claims(STRONG, {"sub": "user-alice", "name": "Alice"})
    need = [Requirement.of(acr="urn:mfa", max_age=100)]
    assert step_up(need, refreshed, now=NOW, leeway=0) is None
    assert step_up(need, refreshed, now=NOW + 1, leeway=0) == StepUp(max_age=100)
