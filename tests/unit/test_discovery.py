"""Models already on the machine: GGUF headers, Ollama manifests, the folders, fit and pick."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import app.models.discovery
import app.models.llms
from app.cli.commands import cli
from app.config.settings import DEFAULT_LLAMACPP_MODEL, resolve_settings
from app.models.discovery import (
    LocalModel,
    ModelFolders,
    NotGguf,
    available_memory,
    describe_gguf,
    discover,
    fits,
    ollama_model_blob,
    ollama_name,
    parameters_label,
    pick,
    read_gguf_header,
)
from app.models.llms import choose_llm
from app.models.ollama import OllamaStatus

GIB = 1 << 30


@pytest.fixture(autouse=True)
def _restore_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``choose_llm`` adds the Ollama host to NO_PROXY; put the variables back afterwards."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _value(value: Any) -> bytes:
    """Type tag and bytes of a metadata value: str, bool, int (uint32), float, list of str."""
    if isinstance(value, str):
        return struct.pack("<I", 8) + _string(value)
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", 4, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    if isinstance(value, list):
        items = b"".join(_string(item) for item in value)
        return struct.pack("<IIQ", 9, 8, len(value)) + items
    raise TypeError(value)


def gguf_bytes(
    metadata: dict[str, Any], tensors: dict[str, tuple[int, ...]], padding: int = 0
) -> bytes:
    """A GGUF v3 file: header, metadata, tensor table, then ``padding`` zero bytes of weights."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, value in metadata.items():
        out += _string(key) + _value(value)
    for name, dims in tensors.items():
        out += _string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", dim) for dim in dims)
        out += struct.pack("<IQ", 0, 0)
    return out + bytes(padding)


def chat_gguf(architecture: str = "llama", **metadata: Any) -> bytes:
    """A small chat-model GGUF of 3,000 parameters with a vocabulary and a few keys."""
    base: dict[str, Any] = {
        "general.architecture": architecture,
        "general.name": "Tiny",
        "tokenizer.ggml.tokens": ["<s>", "</s>", "hello"] * 200,
        f"{architecture}.block_count": 2,
        f"{architecture}.embedding_length": 64,
        f"{architecture}.attention.head_count": 4,
        f"{architecture}.attention.head_count_kv": 2,
    }
    return gguf_bytes({**base, **metadata}, {"token_embd": (10, 100), "output": (20, 100)}, 4096)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ollama_store(root: Path, name: str, blob: bytes, registry: str = "registry.ollama.ai") -> Path:
    """Lay out one model as Ollama does: a manifest naming its layers, the blobs by digest."""
    digest = hashlib.sha256(blob).hexdigest()
    model = write(root / "blobs" / f"sha256-{digest}", blob)
    config = write(root / "blobs" / ("sha256-" + "0" * 64), b"{}")
    namespace, _, rest = name.rpartition("/")
    model_name, _, tag = rest.partition(":")
    manifest = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64},
            {
                "mediaType": "application/vnd.ollama.image.model",
                "digest": f"sha256:{digest}",
                "size": len(blob),
            },
        ],
    }
    folder = root / "manifests" / registry / (namespace or "library") / model_name
    write(folder / (tag or "latest"), json.dumps(manifest).encode())
    assert config.is_file()
    return model


def model(name: str, parameters: int, size: int, source: str = "hf-cache") -> LocalModel:
    return LocalModel(name, Path(f"/m/{name}.gguf"), source, size, parameters, "Q4_K_M")


# GGUF headers.


def test_the_header_gives_the_metadata_and_the_parameter_count() -> None:
    header = read_gguf_header(io.BytesIO(chat_gguf(**{"general.file_type": 15})))
    assert header.architecture == "llama"
    assert header.metadata["general.name"] == "Tiny"
    assert header.metadata["llama.block_count"] == 2
    assert "tokenizer.ggml.tokens" not in header.metadata  # arrays are skipped, not kept
    assert header.parameters == 10 * 100 + 20 * 100  # summed from the tensor table
    assert header.is_chat
    assert header.kv_bytes_per_token() == 2 * 2 * 2 * 64 * 2 // 4


def test_a_declared_parameter_count_wins_over_the_tensor_table() -> None:
    data = chat_gguf(**{"general.parameter_count": 7})
    assert read_gguf_header(io.BytesIO(data)).parameters == 7


def test_the_header_is_read_without_the_weights(tmp_path: Path) -> None:
    data = chat_gguf()
    header_only = data[: len(data) - 4096]
    assert read_gguf_header(io.BytesIO(header_only)).parameters == 3000


@pytest.mark.parametrize(
    "data",
    [b"", b"GGML" + bytes(40), b"GGUF" + struct.pack("<I", 1) + bytes(16), chat_gguf()[:60]],
    ids=["empty", "other magic", "version 1", "truncated"],
)
def test_what_is_not_a_gguf_header_is_not_gguf(data: bytes) -> None:
    with pytest.raises(NotGguf):
        read_gguf_header(io.BytesIO(data))


@pytest.mark.parametrize(
    ("data", "chat"),
    [
        (chat_gguf("bert"), False),
        (chat_gguf("nomic-bert"), False),
        (chat_gguf("qwen2", **{"qwen2.pooling_type": 1}), False),
        (chat_gguf("qwen2"), True),
    ],
)
def test_embedding_models_are_not_chat_models(data: bytes, chat: bool) -> None:
    assert read_gguf_header(io.BytesIO(data)).is_chat is chat


def test_quantisation_comes_from_the_file_type_else_the_name(tmp_path: Path) -> None:
    typed = write(tmp_path / "a.gguf", chat_gguf(**{"general.file_type": 15}))
    named = write(tmp_path / "Qwen2.5-7B-Instruct-Q5_K_S.gguf", chat_gguf())
    unnamed = write(tmp_path / "model.gguf", chat_gguf())
    assert describe_gguf(typed, "a", "ragkit").quantisation == "Q4_K_M"
    assert describe_gguf(named, "b", "ragkit").quantisation == "Q5_K_S"
    assert describe_gguf(unnamed, "c", "ragkit").quantisation == "?"


def test_parameter_labels() -> None:
    assert [parameters_label(n) for n in (0, 134_515_008, 1_711_376_384, 8_030_261_248)] == [
        "?",
        "135M",
        "1.7B",
        "8B",
    ]
    assert parameters_label(70_553_706_496) == "71B"


# Ollama's store.


def test_ollama_names_drop_the_default_registry_and_library(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    assert ollama_name(root / "registry.ollama.ai/library/llama3.2/3b", root) == "llama3.2:3b"
    assert (
        ollama_name(root / "registry.ollama.ai/someone/chat/latest", root) == "someone/chat:latest"
    )
    assert ollama_name(root / "hf.co/bartowski/Qwen-GGUF/Q4_K_M", root) == (
        "hf.co/bartowski/Qwen-GGUF:Q4_K_M"
    )


def test_the_model_layer_names_the_blob(tmp_path: Path) -> None:
    digest = "ab" * 32
    manifest = {
        "layers": [
            {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:" + "c" * 64},
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"},
        ]
    }
    assert ollama_model_blob(manifest, tmp_path) == tmp_path / "blobs" / f"sha256-{digest}"
    assert ollama_model_blob({"layers": []}, tmp_path) is None
    bad = {"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "../x"}]}
    assert ollama_model_blob(bad, tmp_path) is None


# The folders.


def folders(tmp_path: Path, **kinds: Path) -> ModelFolders:
    empty = (tmp_path / "nothing",)
    return ModelFolders(
        ollama=(kinds["ollama"],) if "ollama" in kinds else empty,
        lmstudio=(kinds["lmstudio"],) if "lmstudio" in kinds else empty,
        hf_cache=(kinds["hf"],) if "hf" in kinds else empty,
        ragkit=(kinds["ragkit"],) if "ragkit" in kinds else empty,
    )


def test_discovery_finds_each_store_and_skips_embedding_models(tmp_path: Path) -> None:
    ollama = tmp_path / "ollama"
    ollama_store(ollama, "tinychat:latest", chat_gguf(**{"general.file_type": 2}))
    ollama_store(ollama, "nomic-embed-text:latest", chat_gguf("nomic-bert"))
    write(ollama / "manifests/registry.ollama.ai/library/broken/latest", b"not json")
    lmstudio = tmp_path / "lmstudio"
    write(lmstudio / "lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf", chat_gguf("qwen2"))
    write(lmstudio / "notes/readme.gguf", b"not a model")
    hf = tmp_path / "hub"
    write(hf / "models--acme--Tiny-GGUF/snapshots/abc123/tiny-Q6_K.gguf", chat_gguf())
    ragkit = tmp_path / "ragkit-models"
    write(ragkit / "pulled-Q4_K_M.gguf", chat_gguf())

    found = discover(folders(tmp_path, ollama=ollama, lmstudio=lmstudio, hf=hf, ragkit=ragkit))

    assert [(m.name, m.source, m.quantisation) for m in found] == [
        ("tinychat:latest", "ollama", "Q4_0"),
        ("lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf", "lmstudio", "Q8_0"),
        ("acme/Tiny-GGUF/tiny-Q6_K.gguf", "hf-cache", "Q6_K"),
        ("pulled-Q4_K_M", "ragkit", "Q4_K_M"),
    ]
    assert all(m.parameters == 3000 and m.size_bytes > 4096 for m in found)


def test_a_file_is_listed_once_and_skipped_files_not_at_all(tmp_path: Path) -> None:
    ollama = tmp_path / "ollama"
    blob = ollama_store(ollama, "tinychat:latest", chat_gguf())
    hf = tmp_path / "hub"
    link = hf / "models--acme--Tiny-GGUF/snapshots/abc123/tiny.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)  # a second name for the same file
    ragkit = tmp_path / "ragkit-models"
    embedded = write(ragkit / "SmolLM2-135M-Instruct.Q4_1.gguf", chat_gguf())

    found = discover(folders(tmp_path, ollama=ollama, hf=hf, ragkit=ragkit), skip=[embedded])
    assert [m.name for m in found] == ["tinychat:latest"]


def test_a_split_model_is_listed_once_with_the_size_of_all_its_parts(tmp_path: Path) -> None:
    ragkit = tmp_path / "ragkit-models"
    first = write(ragkit / "big-00001-of-00002.gguf", chat_gguf())
    second = write(ragkit / "big-00002-of-00002.gguf", bytes(1000))
    (found,) = discover(folders(tmp_path, ragkit=ragkit))
    assert found.path == first
    assert found.size_bytes == first.stat().st_size + second.stat().st_size


def test_the_folders_follow_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plain = ModelFolders.of({}, home)
    assert plain.ollama[:1] == (home / ".ollama/models",)
    assert plain.lmstudio == (home / ".lmstudio/models", home / ".cache/lm-studio/models")
    assert plain.hf_cache == (home / ".cache/huggingface/hub",)
    assert plain.ragkit == (home / ".local/share/ragkit/models",)
    chosen = ModelFolders.of(
        {"OLLAMA_MODELS": "/o", "HF_HOME": "/hf", "XDG_DATA_HOME": "/data"}, home
    )
    assert chosen.ollama[0] == Path("/o")
    assert chosen.hf_cache == (Path("/hf/hub"),)
    assert chosen.ragkit == (Path("/data/ragkit/models"),)
    assert ModelFolders.of({"HF_HUB_CACHE": "/c", "HF_HOME": "/hf"}, home).hf_cache == (Path("/c"),)


# Fit and pick.


def test_free_memory_is_mem_available() -> None:
    meminfo = "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   16000000 kB\n"
    assert available_memory(meminfo) == 16_000_000 * 1024


def test_a_model_fits_when_its_file_plus_a_fifth_and_its_context_fit() -> None:
    five = model("five", 8_000_000_000, 5 * GIB)
    context_bytes = five.kv_bytes_per_token * 4096
    assert fits(five, 7 * GIB, 4096) is True
    assert fits(five, int(5 * GIB * 1.2) + context_bytes - 1, 4096) is False
    assert fits(five, None, 4096) is None


def test_auto_picks_the_most_parameters_that_fit_then_more_bits_then_the_name() -> None:
    small = model("small", 1_000_000_000, 1 * GIB)
    big = model("big", 8_000_000_000, 5 * GIB)
    huge = model("huge", 70_000_000_000, 40 * GIB)
    finer = model("finer", 8_000_000_000, 8 * GIB)
    twin = model("a-twin", 8_000_000_000, 5 * GIB)
    assert pick([small, big, huge], 8 * GIB, 4096) == big
    assert pick([small, big, finer], 16 * GIB, 4096) == finer
    assert pick([big, twin], 8 * GIB, 4096) == twin
    assert pick([huge], 8 * GIB, 4096) is None
    assert pick([], 8 * GIB, 4096) is None
    assert pick([small, huge], None, 4096) == huge  # free memory unknown: everything counts


# What auto answers with.

NO_OLLAMA = OllamaStatus("http://127.0.0.1:9", False, problem="Ollama is not running at x")


def choose(environ: dict[str, str], models: list[LocalModel], status: OllamaStatus) -> Any:
    settings = resolve_settings({}, {"RAG_LLM_DISCOVER": "1", **environ}, {})
    return choose_llm(settings, probe=lambda url, timeout: status, models=models)


def test_without_ollama_auto_answers_with_the_best_local_model() -> None:
    found = [model("tiny", 135_000_000, 100 << 20), model("chat", 1_700_000_000, 1 * GIB)]
    choice = choose({}, found, NO_OLLAMA)
    assert (choice.provider, choice.model) == ("llamacpp", "/m/chat.gguf")
    assert choice.reason.startswith("Ollama is not running at x; found chat (hf-cache, 1.7B")


def test_a_running_ollama_with_the_model_comes_first() -> None:
    running = OllamaStatus("http://127.0.0.1:11434", True, "0.5", ("llama3.2:latest",))
    choice = choose({}, [model("chat", 1_700_000_000, 1 * GIB)], running)
    assert (choice.provider, choice.model) == ("ollama", "llama3.2")


def test_nothing_found_or_discovery_off_is_the_embedded_model() -> None:
    found = [model("chat", 1_700_000_000, 1 * GIB)]
    assert choose({}, [], NO_OLLAMA).model == DEFAULT_LLAMACPP_MODEL
    off = choose({"RAG_LLM_DISCOVER": "0"}, found, NO_OLLAMA)
    assert (off.model, off.reason) == (DEFAULT_LLAMACPP_MODEL, NO_OLLAMA.summary)


def test_a_named_ollama_model_is_run_from_its_file_in_the_store() -> None:
    found = [
        model("qwen2.5:7b", 7_000_000_000, 4 * GIB, "ollama"),
        model("llama3.2:latest", 3_000_000_000, 2 * GIB, "ollama"),
        model("other.gguf", 8_000_000_000, 4 * GIB),
    ]
    named = choose({"RAG_LLM_MODEL": "llama3.2"}, found, NO_OLLAMA)
    assert named.model == "/m/llama3.2:latest.gguf"
    assert "its file in Ollama's store" in named.reason
    missing = choose({"RAG_LLM_MODEL": "mistral"}, found, NO_OLLAMA)
    assert missing.model == DEFAULT_LLAMACPP_MODEL


def test_rag_models_lists_what_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    ollama_store(home / ".ollama/models", "tinychat:latest", chat_gguf(**{"general.file_type": 3}))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAG_LLM_DISCOVER", "1")
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(app.models.discovery, "OLLAMA_SYSTEM_MODELS", tmp_path / "empty")
    monkeypatch.setattr(app.models.llms, "ollama_probe", lambda url, timeout: NO_OLLAMA)

    result = CliRunner().invoke(cli, ["models", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (found,) = data["models"]
    assert (found["name"], found["quantisation"], found["parameters"]) == (
        "tinychat:latest",
        "Q4_1",
        3000,
    )
    assert found["auto"] and found["fits"] in (True, None)
    assert data["auto"]["provider"] == "llamacpp"

    table = CliRunner().invoke(cli, ["models"]).stdout.splitlines()
    assert table[0].split() == ["name", "source", "params", "quant", "size", "fits"]
    assert any(line.startswith("*") and "tinychat:latest" in line for line in table)
    assert table[-1].startswith("auto answers with llamacpp:")
    assert "found tinychat:latest (ollama" in table[-1]
