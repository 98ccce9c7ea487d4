"""RAG_EMBED_BACKEND: parsing, the int8 recipe for the CPU, and where exports are cached."""

from pathlib import Path

import pytest

from app.config.settings import resolve_settings
from app.errors import ConfigError
from app.models.onnx_export import export_folder, int8_file, quantization_target, user_cache_dir


@pytest.mark.parametrize("value", ["torch", "onnx", "onnx-int8", " ONNX-INT8 "])
def test_backend_setting_accepts_the_three_backends(value: str) -> None:
    settings = resolve_settings({}, {"RAG_EMBED_BACKEND": value}, {})
    assert settings.embed_backend == value.strip().lower()
    assert settings.embedding_backend == value.strip().lower()


def test_default_backend_is_onnx_int8() -> None:
    assert resolve_settings({}, {}, {}).embed_backend == "onnx-int8"


def test_a_bad_backend_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(
        ConfigError, match="RAG_EMBED_BACKEND must be one of torch, onnx, onnx-int8"
    ):
        resolve_settings({}, {"RAG_EMBED_BACKEND": "tensorrt"}, {})


def test_ollama_embeddings_are_their_own_backend() -> None:
    settings = resolve_settings({"embed_provider": "ollama"}, {"RAG_EMBED_BACKEND": "onnx"}, {})
    assert settings.embedding_backend == "ollama"


@pytest.mark.parametrize(
    ("flags", "machine", "target"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, "x86_64", "avx512_vnni"),
        ({"avx2", "avx512f"}, "x86_64", "avx512"),
        ({"avx2"}, "x86_64", "avx2"),
        (set(), "x86_64", "avx2"),
        (set(), "aarch64", "arm64"),
        (set(), "arm64", "arm64"),
    ],
)
def test_int8_recipe_follows_the_cpu(flags: set[str], machine: str, target: str) -> None:
    assert quantization_target(flags, machine) == target


def test_int8_files_are_named_like_sentence_transformers_exports() -> None:
    assert int8_file("avx512_vnni") == "model_qint8_avx512_vnni.onnx"
    assert int8_file("avx2") == "model_quint8_avx2.onnx"


def test_exports_live_in_the_user_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert user_cache_dir() == tmp_path / "cache" / "ragkit"
    folder = export_folder("org/model", "org/model")
    assert folder.parent == tmp_path / "cache" / "ragkit" / "onnx"
    assert folder.name.startswith("org-model-")
    assert export_folder("org/model", "org/model") == folder
    assert export_folder("org/other", "org/other") != folder


def test_new_weights_in_a_local_folder_make_a_new_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    before = export_folder(str(model), str(model))
    (model / "model.safetensors").write_bytes(b"other weights")
    assert export_folder(str(model), str(model)) != before


def test_an_export_finished_by_another_process_is_kept(tmp_path: Path) -> None:
    from app.models.onnx_export import _publish

    folder = tmp_path / "cache" / "export"

    def write(work: Path, text: str) -> None:
        (work / "model.onnx").write_text(text)

    _publish(folder, lambda work: write(work, "first"))
    _publish(folder, lambda work: write(work, "second"))
    assert (folder / "model.onnx").read_text() == "first"
    assert [p.name for p in folder.parent.iterdir()] == ["export"]
