"""Drives `mcp-access sim serve` with the official Cloudflare Python SDK, unchanged.

Covers what the reconciler relies on the real API for: list auto-paging across several
pages, reusable policy create / update / delete, and app update (a full PUT). If the SDK
and the simulator disagree, the simulator is wrong (unless the project's reference page
on the Access API says otherwise).

Configured by the variables `sim serve` prints: CLOUDFLARE_API_BASE_URL,
CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN. Expects the built-in demo account and a
small `--apps-page-cap`, so that listing apps takes several pages. With `--rate-limited`,
expects `--rate-limit 3/2s` and checks the SDK's handling of the 429 instead.
"""

import os
import sys
import time

import cloudflare
from cloudflare import Cloudflare


def rate_limited(cf: Cloudflare, account_id: str) -> int:
    """Against `sim serve --rate-limit 3/2s`: the SDK's own retries read the 429, its
    Retry-After and its error envelope, and get through once the window reopens."""
    access = cf.with_options(max_retries=0).zero_trust.access
    for _ in range(3):
        access.policies.list(account_id=account_id).result
    try:
        access.policies.list(account_id=account_id).result
    except cloudflare.RateLimitError as e:
        assert e.response.headers.get("retry-after"), e.response.headers
        assert "971" in str(e) or "throttling" in str(e), e
    else:
        raise AssertionError("the 4th request in the window should be refused")
    started = time.monotonic()
    patient = cf.with_options(max_retries=3).zero_trust.access
    policies = list(patient.policies.list(account_id=account_id))
    waited = time.monotonic() - started
    assert policies, "listed after waiting"
    assert waited >= 0.5, f"the SDK should have waited for Retry-After, took {waited:.2f}s"
    print(f"OK: the SDK waited {waited:.1f}s for Retry-After and got through")
    return 0


def main() -> int:
    base_url = os.environ["CLOUDFLARE_API_BASE_URL"]
    account_id = os.environ["CLOUDFLARE_ACCOUNT_ID"]
    token = os.environ["CLOUDFLARE_API_TOKEN"]
    # max_retries=0: a simulator answer the SDK cannot use must fail here, not be retried.
    cf = Cloudflare(api_token=token, base_url=base_url, max_retries=0, timeout=10)
    access = cf.zero_trust.access
    print(f"cloudflare {cloudflare.__version__} against {base_url}")
    if "--rate-limited" in sys.argv[1:]:
        return rate_limited(cf, account_id)

    # --- apps: auto-paging over a capped page size --------------------------------------
    first = access.applications.list(account_id=account_id, per_page=50)
    assert first.result_info is not None, "result_info missing"
    per_page = first.result_info.per_page
    total = first.result_info.total_count
    assert per_page is not None and total is not None, first.result_info
    assert per_page < total, f"expected several pages: per_page={per_page}, total={total}"
    apps = list(first)  # iterating a page auto-pages until an empty one
    assert len(apps) == total, f"auto-paging saw {len(apps)} of {total} apps"
    ids = [a.id for a in apps]
    assert len(set(ids)) == len(ids), f"an app was listed twice: {ids}"
    print(f"listed {len(apps)} apps, {per_page} per page")

    by_name = {a.name: a for a in apps}
    server = by_name["mcp-server-app"]
    wiki = by_name["Company wiki"]
    assert server.uid == server.id and wiki.aud, "uid equals id; aud is set"

    # --- reusable policies: list, create, update, delete -------------------------------
    before = list(access.policies.list(account_id=account_id, per_page=2))
    created = access.policies.create(
        account_id=account_id,
        name="[mcp-access:sdk-check] MCP server mcp-server-app",
        decision="non_identity",
        include=[{"linked_app_token": {"app_uid": server.uid}}],
    )
    assert created is not None and created.id, created
    assert created.decision == "non_identity", created
    assert created.reusable is True and created.app_count == 0, created
    after = list(access.policies.list(account_id=account_id, per_page=2))
    assert len(after) == len(before) + 1, (len(before), len(after))
    print(f"created policy {created.id}")

    updated = access.policies.update(
        created.id,
        account_id=account_id,
        name="[mcp-access:sdk-check] MCP server mcp-server-app (renamed)",
        decision="non_identity",
        include=[{"linked_app_token": {"app_uid": server.uid}}],
        session_duration="12h",
    )
    assert updated is not None and updated.name.endswith("(renamed)"), updated
    got = access.policies.get(created.id, account_id=account_id)
    assert got is not None and got.session_duration == "12h", got
    print("updated policy")

    # --- app update: a full PUT that keeps every field and links the new policy -------
    current = access.applications.get(wiki.id, account_id=account_id)
    raw = current.to_dict()
    links = [{"id": p["id"], "precedence": p["precedence"]} for p in raw.get("policies", [])]
    links.append({"id": created.id, "precedence": max([l["precedence"] for l in links] + [0]) + 1})
    keep = {
        k: v
        for k, v in raw.items()
        if k not in ("id", "uid", "aud", "created_at", "updated_at", "policies", "domain", "type")
    }
    put = access.applications.update(
        wiki.id,
        account_id=account_id,
        domain=raw["domain"],
        type=raw["type"],
        policies=links,
        extra_body=keep,  # fields the SDK's typed parameters may not know about
    )
    assert put is not None, put
    again = access.applications.get(wiki.id, account_id=account_id).to_dict()
    assert [p["id"] for p in again["policies"]] == [l["id"] for l in links], again["policies"]
    for key, value in raw.items():
        if key not in ("policies", "updated_at"):
            assert again.get(key) == value, f"app field {key} changed: {value!r} -> {again.get(key)!r}"
    linked = access.policies.get(created.id, account_id=account_id)
    assert linked is not None and linked.app_count == 1, linked
    print("updated app (PUT) with every field kept")

    # Deleting a policy in use is refused, with a Cloudflare error the SDK surfaces.
    try:
        access.policies.delete(created.id, account_id=account_id)
    except cloudflare.BadRequestError as e:
        assert "in use" in str(e), e
    else:
        raise AssertionError("deleting a linked policy should fail")

    # Unlink (PUT the app back as it was), then delete.
    access.applications.update(
        wiki.id,
        account_id=account_id,
        domain=raw["domain"],
        type=raw["type"],
        policies=links[:-1],
        extra_body=keep,
    )
    deleted = access.policies.delete(created.id, account_id=account_id)
    assert deleted is not None and deleted.id == created.id, deleted
    try:
        access.policies.get(created.id, account_id=account_id)
    except cloudflare.NotFoundError:
        pass
    else:
        raise AssertionError("a deleted policy should be gone")
    final = list(access.policies.list(account_id=account_id))
    assert len(final) == len(before), (len(before), len(final))
    print("deleted policy")

    # A wrong token is refused the way the SDK expects.
    bad = Cloudflare(api_token="wrong", base_url=base_url, max_retries=0, timeout=10)
    try:
        bad.zero_trust.access.policies.list(account_id=account_id).result
    except cloudflare.PermissionDeniedError:
        pass
    else:
        raise AssertionError("a wrong token should be refused")

    print("OK: the official Python SDK works against the simulator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
