"""Export a sentence-transformers model to ONNX once, into the user cache folder.

sentence-transformers' own ONNX backend needs optimum-onnx, whose releases pin
transformers below 5 while sentence-transformers 6 needs 5 or later; so ragkit exports
the transformer with ``torch.onnx``, fuses it with ONNX Runtime's BERT optimiser and
quantises it with ``onnxruntime.quantization.quantize_dynamic``. Pooling runs in numpy
(see ``app.models.onnx_runtime``). Only this module imports torch, and only on export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.errors import ProviderError

EXPORT_RECIPE = 2
"""Bump when the export changes, so that cached exports are made again."""
FP32_FILE = "model.onnx"
CONFIG_FILE = "ragkit-onnx.json"
TOKENIZER_FILE = "tokenizer.json"
INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")
POOLING_MODES = ("mean", "cls", "max")
QUANTIZATION_TARGETS = ("avx512_vnni", "avx512", "avx2", "arm64")
FUSED_MODEL_TYPES = ("bert",)


def user_cache_dir() -> Path:
    """The cache folder: $XDG_CACHE_HOME/ragkit, else ~/.cache/ragkit."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ragkit"


def export_folder(model: str, resolved: str) -> Path:
    """Cache folder of one model's export, named after the model and its weights' identity."""
    return user_cache_dir() / "onnx" / model_identity(model, resolved)


def model_identity(model: str, resolved: str) -> str:
    """A folder name for one model's weights: its name and a digest of their identity.

    A local folder is identified by its path and the size and time of its weight files,
    so replacing the weights gives a new name; a hub id by its name.
    """
    identity = [f"recipe {EXPORT_RECIPE}", model, resolved]
    folder = Path(resolved)
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            identity.append(f"{weights.name} {stat.st_size} {stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(identity).encode("utf-8", "surrogatepass")).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model.strip("/")).strip("-")[-60:] or "model"
    return f"{slug}-{digest[:12]}"


def quantization_target(cpu_flags: set[str] | None = None, machine: str | None = None) -> str:
    """The int8 recipe for this CPU: avx512_vnni, avx512, avx2 (x86) or arm64."""
    arch = (machine or platform.machine()).lower()
    if arch in ("arm64", "aarch64"):
        return "arm64"
    flags = _cpu_flags() if cpu_flags is None else cpu_flags
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def int8_file(target: str) -> str:
    """File name of the quantised model for a target, as sentence-transformers names them."""
    return f"model_{'quint8' if target == 'avx2' else 'qint8'}_{target}.onnx"


def ensure_export(model: str, resolved: str, backend: str) -> tuple[Path, Path]:
    """The cached ONNX file for ``backend`` (onnx or onnx-int8) and its folder, made if missing."""
    folder = export_folder(model, resolved)
    if not (folder / CONFIG_FILE).is_file():
        _notice(f"exporting {model} to ONNX into {folder} (once)")
        with _quiet():
            _publish(folder, lambda work: export_fp32(resolved, work))
    if backend == "onnx":
        return folder / FP32_FILE, folder
    target = quantization_target()
    quantized = folder / int8_file(target)
    if not quantized.is_file():
        _notice(f"quantising {model} to int8 for {target} (once)")
        with _quiet():
            _publish_file(quantized, lambda path: quantize(folder / FP32_FILE, path, target))
    return quantized, folder


def export_fp32(resolved: str, work: Path) -> None:
    """Write model.onnx (fused when the architecture allows), tokenizer.json and the config."""
    import torch
    from sentence_transformers import SentenceTransformer

    from app.models.quiet import quiet_transformers

    quiet_transformers()
    try:
        # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime fuses and runs
        # about 1.5x faster than the traced scaled_dot_product_attention graph.
        encoder = SentenceTransformer(
            resolved, device="cpu", model_kwargs={"attn_implementation": "eager"}
        )
    except (OSError, ValueError) as error:
        raise ProviderError(
            f"cannot load embedding model {resolved!r} to export it to ONNX ({error}); "
            "set RAG_EMBED_BACKEND=torch or RAG_EMBED_MODEL to a local folder"
        ) from error
    pooling_mode = _pooling_mode(encoder)
    transformer: Any = encoder[0].auto_model
    transformer.eval()
    encoder.tokenizer.save_pretrained(str(work))
    if not (work / TOKENIZER_FILE).is_file():
        raise ProviderError(
            f"{resolved} has no fast tokenizer (tokenizer.json); set RAG_EMBED_BACKEND=torch"
        )
    names = [name for name in INPUT_ORDER if name in encoder.tokenizer.model_input_names]
    sample = encoder.tokenizer(["an example", "a longer example sentence"], padding=True)
    inputs = tuple(torch.tensor(sample[name]) for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    raw = work / "raw.onnx"
    with torch.no_grad():
        torch.onnx.export(
            _last_hidden_state(transformer, names),
            inputs,
            str(raw),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    config = transformer.config
    _fuse(raw, work / FP32_FILE, config.model_type, config.num_attention_heads, config.hidden_size)
    raw.unlink()
    settings = {
        "inputs": names,
        "pooling": pooling_mode,
        "max_length": int(encoder.max_seq_length or 512),
        "pad_id": int(encoder.tokenizer.pad_token_id or 0),
        "dimension": int(config.hidden_size),
    }
    (work / CONFIG_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")


def quantize(source: Path, target_path: Path, target: str) -> None:
    """Dynamic int8 quantisation of the MatMul and Attention weights for a CPU target."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target_path),
        weight_type=QuantType.QUInt8 if target == "avx2" else QuantType.QInt8,
        per_channel=True,
        # Non-VNNI x86 multiplies u8 by s8 with 16-bit saturation: 7-bit weights avoid it.
        reduce_range=target in ("avx2", "avx512"),
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _last_hidden_state(model: Any, names: list[str]) -> Any:
    """A torch module with positional inputs in ``names`` order, returning the token states."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

    return LastHiddenState()


def _pooling_mode(encoder: Any) -> str:
    kinds = [type(module).__name__ for module in encoder]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ProviderError(
            f"RAG_EMBED_BACKEND=onnx supports Transformer + Pooling models; this one has "
            f"{' + '.join(kinds)}: set RAG_EMBED_BACKEND=torch"
        )
    mode = str(encoder[1].get_config_dict().get("pooling_mode", ""))
    if mode not in POOLING_MODES:
        raise ProviderError(
            f"RAG_EMBED_BACKEND=onnx supports {', '.join(POOLING_MODES)} pooling, not "
            f"{mode!r}: set RAG_EMBED_BACKEND=torch"
        )
    return mode


def _fuse(source: Path, target: Path, model_type: str, heads: int, hidden: int) -> None:
    """Fuse attention and layer norms with ONNX Runtime's optimiser (BERT family only)."""
    if model_type not in FUSED_MODEL_TYPES:
        shutil.copyfile(source, target)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(
        str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
    ).save_model_to_file(str(target))


def _publish(folder: Path, write: Any) -> None:
    """Write a folder's files in a temporary sibling, then rename it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write(work)
        try:
            work.rename(folder)
        except OSError:
            if not folder.is_dir():  # else another process finished first; its export is as good
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _publish_file(path: Path, write: Any) -> None:
    """Write one file under a temporary name, then rename it into place."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _notice(message: str) -> None:
    print(f"ragkit: {message}", file=sys.stderr)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's tracer warnings and the quantiser's advice on the root logger."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        # onnxruntime's quantisation package calls logging.basicConfig on import.
        root.setLevel(level)
        root.handlers[:] = handlers


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
