"""Every authenticated route, run as every kind of caller (the table is ``matrix.MATRIX``).

One test item per row: the world is reset, then each principal sends the row's request and
must get the status in the table, with the problem type that goes with it. On top of the
status, for eve (fabrikam's global admin sending contoso's ids):

- a 404 must be the answer a missing id gets ("not yours" and "missing" look the same);
- a 2xx answer must hold nothing of contoso (ids, e-mail addresses, names, session ids).
"""

from __future__ import annotations

import pytest

from tests.architecture.matrix import (
    MATRIX,
    PROBLEM_TYPES,
    STALE,
    WHO,
    Row,
    Stage,
    as_missing,
    problem_type,
    without_ids,
)


def _brief(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: r.id)
async def test_role_matrix(stage: Stage, row: Row) -> None:
    await stage.reset()
    wrong: list[str] = []
    for who in WHO:
        req = row.ask(stage, who)
        resp = await stage.send(row, who, req)
        expected = row.expect[who]
        where = f"{row.method} {row.path} as {who}"
        if resp.status_code != expected:
            wrong.append(
                f"{where}: expected {expected}, got {resp.status_code} {_brief(resp.text)}"
            )
            continue
        if expected in PROBLEM_TYPES and problem_type(resp) != PROBLEM_TYPES[expected]:
            wrong.append(
                f"{where}: {expected} is not a {PROBLEM_TYPES[expected]} problem: {resp.text}"
            )
        if who != "eve":
            continue
        if 200 <= expected < 300:
            leaked = stage.leaks(resp.text, "contoso", req.ids())
            if leaked:
                wrong.append(f"{where}: the answer holds contoso data {leaked}")
        if expected == 404:
            missing = as_missing(req)
            other = await stage.send(row, who, missing)
            seen = (resp.status_code, problem_type(resp), resp.json().get("title"))
            gone = (other.status_code, problem_type(other), other.json().get("title"))
            if seen != gone or without_ids(resp.json()["detail"], req) != without_ids(
                other.json()["detail"], missing
            ):
                wrong.append(
                    f"{where}: 'not yours' {resp.text} differs from 'missing' {other.text}"
                )
    assert not wrong, "\n".join(wrong)


async def test_admin_routes_refuse_a_stale_second_factor(stage: Stage) -> None:
    """Olivia may do everything, but not with a session whose second factor is old: every
    admin route answers 401 mfa-required (and the step-up route is how to fix it)."""
    await stage.reset()
    admin_rows = [r for r in MATRIX if r.is_admin_route]
    assert len(admin_rows) > 20
    wrong: list[str] = []
    for row in admin_rows:
        req = row.ask(stage, STALE)
        resp = await stage.send(row, "olivia", req, headers=stage.stale_headers)
        if (resp.status_code, problem_type(resp)) != (401, "mfa-required"):
            wrong.append(f"{row.id}: expected 401 mfa-required, got {resp.status_code} {resp.text}")
    assert not wrong, "\n".join(wrong)
    # the same session still reaches olivia's own account: only admin actions need a fresh MFA
    me = await stage.call("olivia", "GET", "/api/v1/me/sessions", headers=stage.stale_headers)
    assert me.status_code == 200, me.text
