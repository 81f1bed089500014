"""``serve``'s web routes: the app (with its SPA fallback), config.json, the dev-token endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest


def fetch(url: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_app_its_routes_and_its_assets_are_served(api_server: Any) -> None:
    status, headers, page = fetch(api_server.web_url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<div id="app">' in page
    status, _, fallback = fetch(api_server.url + "/app/projects/prj-1")
    assert status == 200 and fallback == page  # the app's own routes get the page
    asset = page.decode().split('src="./')[1].split('"')[0]
    status, headers, _ = fetch(f"{api_server.url}/app/{asset}")
    assert status == 200 and "immutable" in headers["Cache-Control"]
    assert "javascript" in headers["Content-Type"]
    status, _, escaped = fetch(api_server.url + "/app/..%2f..%2fpyproject.toml")
    assert escaped == page  # never a file outside the build


def test_config_json_and_a_dev_token_that_the_api_accepts(api_server: Any) -> None:
    for path in ("/config.json", "/app/config.json"):
        status, _, body = fetch(api_server.url + path)
        assert status == 200
        assert json.loads(body)["webSocketUrl"] == api_server.ws_url
    status, _, body = fetch(
        api_server.url + "/_local/dev-token", {"user": "pat", "roles": ["approver"]}
    )
    assert status == 200
    token = json.loads(body)["token"]
    request = urllib.request.Request(
        api_server.url + "/me", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read()) == {"user": "pat", "roles": {"*": ["approver"]}}


@pytest.mark.parametrize(
    "body",
    [{"user": "", "roles": ["approver"]}, {"user": "pat", "roles": ["admin"]}, {"user": "pat"}],
)
def test_a_bad_dev_token_request_is_400(api_server: Any, body: dict[str, Any]) -> None:
    status, _, answer = fetch(api_server.url + "/_local/dev-token", body)
    assert status == 400
    assert json.loads(answer)["error"]["code"] == "invalid_input"
