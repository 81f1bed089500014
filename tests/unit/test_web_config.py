"""The web app's config.json and the dev-token endpoint's guard (pure functions)."""

from __future__ import annotations

from agentic_mlops.local.web import SHIPPED, is_loopback, site_config, web_dir
from agentic_mlops.settings import load_settings


def test_config_points_the_page_at_the_server_it_reached() -> None:
    config = site_config(load_settings(environ={}), "http://127.0.0.1:9000")
    assert config == {
        "apiUrl": "http://127.0.0.1:9000",
        "webSocketUrl": "ws://127.0.0.1:9000/ws",
        "auth": "dev",
        "devTokenUrl": "http://127.0.0.1:9000/_local/dev-token",
    }


def test_config_carries_the_cognito_hosted_ui_and_no_dev_tokens_in_claims_mode() -> None:
    settings = load_settings(
        environ={
            "AGENTIC_MLOPS_AUTH": "claims",
            "AGENTIC_MLOPS_WEB_COGNITO_DOMAIN": "team.auth.eu-west-1.amazoncognito.com/",
            "AGENTIC_MLOPS_USER_POOL_CLIENT_ID": "client-1",
        }
    )
    config = site_config(settings, "https://mlops.example.com")
    assert "devTokenUrl" not in config
    assert config["auth"] == "cognito"
    assert config["webSocketUrl"] == "wss://mlops.example.com/ws"
    assert config["cognitoDomain"] == "team.auth.eu-west-1.amazoncognito.com"
    assert config["userPoolClientId"] == "client-1"
    assert config["redirectUri"] == "https://mlops.example.com/app/"
    assert config["scopes"] == "openid email profile"


def test_only_loopback_peers_count_as_local() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.0.2")
    assert not is_loopback("10.0.0.5") and not is_loopback("") and not is_loopback(None)
    assert not is_loopback("not-an-address")


def test_the_shipped_build_is_served_unless_another_folder_is_set(tmp_path) -> None:
    assert web_dir(load_settings(environ={})) == SHIPPED
    assert (SHIPPED / "index.html").is_file()
    chosen = load_settings(environ={"AGENTIC_MLOPS_WEB_DIR": str(tmp_path)})
    assert web_dir(chosen) == tmp_path
