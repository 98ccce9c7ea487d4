import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config.settings import resolve_settings
from app.errors import ProviderError
from app.models.network import (
    PROXY_VARIABLES,
    bypasses_proxy,
    direct_hosts,
    mask_credentials,
    merge_no_proxy,
    proxy_for,
    route_directly,
    socks_support_missing,
)
from app.models.ollama import prepare_ollama


def test_local_ollama_goes_into_both_no_proxy_variables_keeping_entries() -> None:
    env = {"NO_PROXY": "corp.example,localhost", "no_proxy": "intranet", "HTTP_PROXY": "http://p:1"}
    assert route_directly("http://127.0.0.1:11434", bypass_remote=False, environ=env)
    expected = "corp.example,localhost,intranet,127.0.0.1,::1"
    assert env["NO_PROXY"] == env["no_proxy"] == expected
    route_directly("http://127.0.0.1:11434", bypass_remote=False, environ=env)
    assert env["NO_PROXY"] == expected  # idempotent: no duplicates


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("http://127.0.0.1:11434", ["127.0.0.1", "localhost", "::1"]),
        ("http://localhost:11434", ["localhost", "127.0.0.1", "::1"]),
        ("http://[::1]:11434", ["::1", "localhost", "127.0.0.1"]),
        ("http://127.0.0.2:8080", ["127.0.0.2", "localhost", "127.0.0.1", "::1"]),
        ("http://gpu-box.lan:11434", ["gpu-box.lan"]),
    ],
)
def test_direct_hosts(url: str, hosts: list[str]) -> None:
    assert direct_hosts(url) == hosts


def test_a_remote_host_keeps_the_proxy_unless_asked() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128"}
    assert not route_directly("http://gpu-box.lan:11434", bypass_remote=False, environ=env)
    assert "NO_PROXY" not in env
    assert route_directly("http://gpu-box.lan:11434", bypass_remote=True, environ=env)
    assert env["NO_PROXY"] == env["no_proxy"] == "gpu-box.lan"


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("127.0.0.1", "localhost,127.0.0.1", True),
        ("api.example.com", ".example.com", True),
        ("api.example.com", "example.com", True),
        ("api.example.com", "*.example.com", True),
        ("example.community", "example.com", False),
        ("::1", "[::1]:11434", True),
        ("gpu-box", "gpu-box:11434", True),
        ("anything", "*", True),
        ("other", "", False),
    ],
)
def test_bypasses_proxy(host: str, no_proxy: str, bypassed: bool) -> None:
    assert bypasses_proxy(host, {"no_proxy": no_proxy}) is bypassed


def test_proxy_for_names_the_variable_a_client_would_use() -> None:
    env = {"http_proxy": "http://a:1", "ALL_PROXY": "socks5h://b:2", "NO_PROXY": "127.0.0.1"}
    assert proxy_for("http://gpu-box:11434", env) == ("http_proxy", "http://a:1")
    assert proxy_for("https://gpu-box:443", env) == ("ALL_PROXY", "socks5h://b:2")
    assert proxy_for("http://127.0.0.1:11434", env) is None


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:secret@proxy:8080", "http://***:***@proxy:8080"),
        ("socks5h://token@127.0.0.1:7891", "socks5h://***@127.0.0.1:7891"),
        ("http://127.0.0.1:7890", "http://127.0.0.1:7890"),
    ],
)
def test_mask_credentials(url: str, masked: str) -> None:
    assert mask_credentials(url) == masked


def test_a_socks_proxy_without_httpx_socks_support_gets_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    socks = {"all_proxy": "socks5h://127.0.0.1:7891"}
    assert socks_support_missing(socks) is None  # httpx[socks] is a dependency
    monkeypatch.setitem(sys.modules, "socksio", None)  # now ``import socksio`` fails
    assert socks_support_missing(socks) == "all_proxy"
    assert socks_support_missing({"HTTPS_PROXY": "http://127.0.0.1:7890"}) is None
    for name in (*PROXY_VARIABLES, *(name.lower() for name in PROXY_VARIABLES)):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:7891")
    monkeypatch.setenv("NO_PROXY", "")  # restored afterwards: prepare_ollama writes it
    monkeypatch.setenv("no_proxy", "")
    with pytest.raises(ProviderError) as caught:
        prepare_ollama(resolve_settings({}, {}, {}))
    assert str(caught.value) == (
        "ALL_PROXY names a SOCKS proxy but httpx's SOCKS support is missing: "
        'run `pip install "httpx[socks]"`'
    )


hosts = st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,20}", fullmatch=True)


@given(existing=st.lists(hosts, max_size=6), added=st.lists(hosts, max_size=6))
def test_merging_keeps_existing_entries_adds_all_and_never_duplicates(
    existing: list[str], added: list[str]
) -> None:
    merged = merge_no_proxy(",".join(existing), added)
    entries = merged.split(",") if merged else []
    assert len(entries) == len({entry.lower() for entry in entries})
    assert set(existing) | set(added) == set(entries)
    deduplicated_existing = list(dict.fromkeys(existing))
    assert entries[: len(deduplicated_existing)] == deduplicated_existing
    assert merge_no_proxy(merged, added) == merged
