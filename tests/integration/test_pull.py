"""``rag pull`` against a stand-in hub on 127.0.0.1 that serves a copy of the SmolLM2 GGUF.

Directly and through a forwarding proxy on loopback; a download broken off halfway and
resumed by the next run; bytes that do not match the hub's SHA-256 refused; offline refused.
Nothing leaves 127.0.0.1: HF_ENDPOINT points at the stand-in, HF_HOME and XDG_DATA_HOME at
the test's folder.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import pexpect
import pytest

from app.models.llms import embedded_gguf_path
from tests.integration.conftest import rag_env, run_rag
from tests.support.forward_proxy import ForwardingProxy
from tests.support.hub_server import Seen, StandInHub

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = "stand-in/SmolLM2-135M-Instruct-GGUF"
TOKEN = "hf_stand_in_token"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(scope="module")
def gguf() -> Path:
    return embedded_gguf_path()


@pytest.fixture
def hub(gguf: Path) -> Iterator[StandInHub]:
    with StandInHub(REPO, gguf) as running:
        yield running


def pull_env(home: Path, hub: StandInHub, **extra: str) -> dict[str, str]:
    """A ``rag`` environment online to the stand-in hub only, with no proxy unless given."""
    env = rag_env(home / "index")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        env.pop(name, None)
    for name in PROXY_VARIABLES:
        env.pop(name, None)
        env.pop(name.lower(), None)
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(home / "hf-home"),
        XDG_DATA_HOME=str(home / "data"),
        NO_PROXY="127.0.0.1,127.0.0.2,localhost",
    )
    env.update(extra)
    return env


def file_requests(seen: list[Seen]) -> list[Seen]:
    """The requests for the file (huggingface_hub also asks ``/api/agent-harnesses`` daily)."""
    return [one for one in seen if not one.path.startswith("/api/")]


def spec(hub: StandInHub) -> str:
    return f"{REPO}/{hub.filename}"


def pulled_path(home: Path, hub: StandInHub) -> Path:
    return home / "data" / "ragkit" / "models" / hub.filename


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_directly_checks_the_file_and_says_how_to_use_it(
    tmp_path: Path, hub: StandInHub, sample_index: Path
) -> None:
    env = pull_env(tmp_path, hub, HF_TOKEN=TOKEN)
    result = run_rag(["pull", spec(hub)], env)
    target = pulled_path(tmp_path, hub)
    assert sha256_of(target) == hub.sha256
    assert not target.with_name(target.name + ".part").exists()
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    line = result.stdout.strip()
    assert line.startswith(f"Downloaded {target} (98.4 MB, sha256 {hub.sha256[:12]}… verified)")
    assert line.endswith(f"use it with RAG_LLM_MODEL={target}")
    hub_host, cdn_host = hub.url.removeprefix("http://"), hub.cdn_url.removeprefix("http://")
    bearer = f"Bearer {TOKEN}"
    # The size and SHA-256 come from the hub's redirect; HF_TOKEN goes to the hub, not the CDN.
    assert [
        (*astuple(seen)[:-1], seen.authorization == bearer) for seen in file_requests(hub.requests)
    ] == [
        (hub_host, "HEAD", hub.resolve_path, None, True),
        (hub_host, "GET", hub.resolve_path, None, True),
        (cdn_host, "GET", f"/cdn/{hub.sha256}", None, False),
    ]

    seen_before = len(hub.requests)
    again = run_rag(["pull", spec(hub)], env)
    assert again.stdout.startswith(f"Already there: {target} (98.4 MB, sha256")
    assert [seen.method for seen in file_requests(hub.requests[seen_before:])] == ["HEAD"]

    # `rag models` lists the pulled file and `auto` picks it (nothing else on this fake home).
    lookup = {**env, "RAG_LLM_DISCOVER": "1", "HOME": str(tmp_path), "OLLAMA_MODELS": ""}
    found = json.loads(run_rag(["models", "--json"], lookup).stdout)
    assert [model["path"] for model in found["models"]] == [str(target)]
    assert found["auto"]["model"] == str(target)

    answer = run_rag(
        ["ask", "How do I import a GGUF model into Ollama?", "--json"],
        rag_env(sample_index, RAG_LLM_PROVIDER="llamacpp", RAG_LLM_MODEL=str(target)),
    )
    assert '"answer": "' in answer.stdout and '"sources": [' in answer.stdout


def test_a_terminal_shows_a_progress_bar_in_bytes(tmp_path: Path, hub: StandInHub) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "app", "pull", spec(hub)],
        env=pull_env(tmp_path, hub),
        encoding="utf-8",
        timeout=120,
        dimensions=(24, 160),
    )
    try:
        child.expect(pexpect.EOF)
    finally:
        child.close()
    shown = child.before or ""
    assert f"{hub.filename}: 100%" in shown and "93.8M/93.8M" in shown
    assert "Downloaded " in shown and child.exitstatus == 0


def test_pull_through_a_forward_proxy(tmp_path: Path, hub: StandInHub) -> None:
    with ForwardingProxy() as proxy:
        env = pull_env(
            tmp_path, hub, HTTP_PROXY=proxy.url, HTTPS_PROXY=proxy.url, NO_PROXY="", no_proxy=""
        )
        run_rag(["pull", spec(hub)], env)
    assert sha256_of(pulled_path(tmp_path, hub)) == hub.sha256
    assert [line for line in proxy.requests if "/api/" not in line] == [
        f"HEAD {hub.url}{hub.resolve_path}",
        f"GET {hub.url}{hub.resolve_path}",
        f"GET {hub.cdn_url}/cdn/{hub.sha256}",
    ]
    assert len(hub.requests) == len(proxy.requests)


def test_a_broken_download_is_resumed_by_the_next_pull(tmp_path: Path, gguf: Path) -> None:
    # Every attempt of the first run (three) breaks off halfway through what it asked for.
    with StandInHub(REPO, gguf, cut_off=3) as hub:
        env = pull_env(tmp_path, hub)
        target = pulled_path(tmp_path, hub)
        part = target.with_name(target.name + ".part")
        first = run_rag(["pull", spec(hub)], env, check=False)
        assert first.returncode == 1
        assert "broke off at" in first.stderr
        assert "run the same `rag pull` again to resume it" in first.stderr
        assert not target.exists()
        kept = part.stat().st_size
        assert len(hub.data) // 2 <= kept < len(hub.data)

        seen_before = len(hub.requests)
        run_rag(["pull", spec(hub)], env)
        assert f"bytes={kept}-" in [seen.range for seen in hub.requests[seen_before:]]
    assert sha256_of(target) == hub.sha256
    assert not part.exists()


def test_bytes_that_do_not_match_the_hubs_sha256_are_refused(tmp_path: Path, gguf: Path) -> None:
    with StandInHub(REPO, gguf, corrupt=True) as hub:
        result = run_rag(["pull", spec(hub)], pull_env(tmp_path, hub), check=False)
    assert result.returncode == 1
    error = result.stderr.strip()
    assert error.startswith(f"error: refused the download of {spec(hub)}: its SHA-256 is ")
    assert "deleted the partial file" in error and len(error.splitlines()) == 1
    models = tmp_path / "data" / "ragkit" / "models"
    assert not (models / hub.filename).exists()
    assert not (models / f"{hub.filename}.part").exists()


def test_offline_mode_refuses_to_download(tmp_path: Path, hub: StandInHub) -> None:
    env = pull_env(tmp_path, hub, HF_HUB_OFFLINE="1")
    result = run_rag(["pull", "balanced"], env, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: HF_HUB_OFFLINE=1: cannot download "
        "Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf; unset HF_HUB_OFFLINE"
    )
    assert hub.requests == []


def test_an_unknown_file_is_one_line_naming_it(tmp_path: Path, hub: StandInHub) -> None:
    result = run_rag(["pull", f"{REPO}/missing.gguf"], pull_env(tmp_path, hub), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {REPO} has no file missing.gguf: check the name on the hub"
    )
