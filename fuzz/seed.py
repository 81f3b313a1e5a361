#!/usr/bin/env python3
"""Writes the fuzz corpora's seeds: the example manifests, and API responses built
from the simulator's demo account. Run from anywhere; writes fuzz/corpus/<target>/."""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"


def write(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# Manifests: `VALUE \0 MANIFEST`; without a NUL byte the whole input is the manifest.
for path in sorted(root.glob("examples/**/*.y*ml")):
    text = path.read_bytes()
    name = "-".join(path.relative_to(root / "examples").parts)
    write("manifest", f"seed-{name}", text)
    write("manifest", f"seed-env-{name}", b"mcp-server-app\0" + text.replace(b"mcp-server-app", b"${APP}"))

# API responses: a selector byte (kind = selector % 5; status 200 for selectors < 128),
# then the body. A list's pages are separated by 0xFF; kind 4 (an account) is the apps
# list, 0xFE, the policies list.
account = json.loads((root / "src" / "sim" / "demo_account.json").read_text())


def page(items, number=1, per_page=100, total=None):
    return json.dumps({
        "success": True, "errors": [], "messages": [], "result": items,
        "result_info": {"page": number, "per_page": per_page, "count": len(items),
                        "total_count": len(items) if total is None else total},
    }).encode()


def one(item):
    return json.dumps({"success": True, "errors": [], "messages": [], "result": item}).encode()


write("api_response", "seed-apps-page", b"\x00" + page(account["apps"]))
write("api_response", "seed-policies-page", b"\x01" + page(account["policies"]))
for i, app in enumerate(account["apps"]):
    write("api_response", f"seed-app-{i}", b"\x02" + one(app))
for i, policy in enumerate(account["policies"]):
    write("api_response", f"seed-policy-{i}", b"\x03" + one(policy))
apps = account["apps"]
write("api_response", "seed-apps-two-pages",
      b"\x00" + page(apps[:5], 1, 5, len(apps)) + b"\xff" + page(apps[5:], 2, 5, len(apps)))
write("api_response", "seed-account", b"\x04" + page(apps) + b"\xfe" + page(account["policies"]))
error = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}], "result": None}
write("api_response", "seed-error-404", bytes([0xA5]) + json.dumps(error).encode())
