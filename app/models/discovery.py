"""Chat models already on this machine: Ollama's store, LM Studio, the Hugging Face cache.

The core is pure: functions take folders, environment and numbers and return ``LocalModel``
records. GGUF files are identified by their header (the metadata and the tensor table before
the weights); the weights themselves are never read.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.config.paths import models_dir

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_SYSTEM_MODELS = Path("/usr/share/ollama/.ollama/models")
OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"
EMBEDDING_ARCHITECTURES = frozenset(
    {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder", "clip", "roberta"}
)
"""Architectures of embedding, encoder-only and vision-projector GGUF files: not chat models."""
SOURCES = ("ollama", "lmstudio", "hf-cache", "ragkit")
MEMORY_MARGIN = 1.2
"""A loaded model takes about its file size plus a fifth (buffers, scratch)."""
DEFAULT_KV_BYTES_PER_TOKEN = 64 * 1024
"""KV cache per token of context when the header does not give the model's shape."""

# GGUF value types (gguf-py's GGUFValueType): struct format of the fixed-size ones.
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 1 << 24
_MAX_COUNT = 1 << 26

FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}  # fmt: skip
"""``general.file_type`` values (llama.cpp's ``llama_ftype``) by quantisation name."""

_QUANT_IN_NAME = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d_(?:K_[SMLX]L?|K|[01]|XXS|XS|NL|[SML])|BF16|F16|F32)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SIZE_IN_NAME = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([MB])(?![A-Za-z0-9])", re.IGNORECASE)
_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


class NotGguf(ValueError):
    """A file that is not a readable GGUF file."""


@dataclass(frozen=True)
class GgufHeader:
    """What a GGUF header says: its metadata (arrays left out) and the parameter count."""

    metadata: dict[str, Any]
    parameters: int

    @property
    def architecture(self) -> str:
        """``general.architecture``, e.g. ``llama``; empty when missing."""
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str) -> Any:
        """An architecture-specific value, e.g. ``block_count`` for ``llama.block_count``."""
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def is_chat(self) -> bool:
        """Not an embedding or encoder-only model (those have a pooling type or a BERT body)."""
        if self.architecture in EMBEDDING_ARCHITECTURES:
            return False
        return self.arch_value("pooling_type") is None

    def kv_bytes_per_token(self) -> int:
        """Bytes of f16 KV cache per token of context, from the model's shape."""
        layers = self.arch_value("block_count")
        width = self.arch_value("embedding_length")
        heads = self.arch_value("attention.head_count")
        kv_heads = self.arch_value("attention.head_count_kv") or heads
        if not all(isinstance(v, int) and v > 0 for v in (layers, width, heads, kv_heads)):
            return DEFAULT_KV_BYTES_PER_TOKEN
        return 2 * 2 * int(layers) * int(width) * int(kv_heads) // int(heads)


class _Reader:
    """Reads a header from a stream in blocks, so skipping a vocabulary costs little."""

    BLOCK = 1 << 20

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.data = b""
        self.pos = 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        if self.pos + size > len(self.data):
            more = self.stream.read(max(size, self.BLOCK))
            self.data = self.data[self.pos :] + more
            self.pos = 0
            if size > len(self.data):
                raise NotGguf("the file ends inside its header")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> Any:
        """One little-endian value of struct format ``fmt``."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def string(self) -> str:
        """A GGUF string: uint64 length, then UTF-8 bytes."""
        length = self.unpack("Q")
        if length > _MAX_STRING:
            raise NotGguf("a string in the header is implausibly long")
        return self.take(length).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Skip ``count`` strings (a vocabulary), reading their lengths in place."""
        unpack_from = struct.unpack_from
        for _ in range(count):
            if self.pos + 8 > len(self.data):
                self.take(8)  # refills the block, then steps back to the length
                self.pos -= 8
            (length,) = unpack_from("<Q", self.data, self.pos)
            if length > _MAX_STRING:
                raise NotGguf("a string in the header is implausibly long")
            if self.pos + 8 + length <= len(self.data):
                self.pos += 8 + length
            else:
                self.take(8 + length)

    def value(self, kind: int) -> Any:
        """One metadata value; arrays are skipped (returned as None) without being kept."""
        if kind in _FIXED:
            return self.unpack(_FIXED[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise NotGguf(f"unknown metadata value type {kind}")
        item, count = self.unpack("I"), self.unpack("Q")
        if count > _MAX_COUNT:
            raise NotGguf("an array in the header is implausibly long")
        if item in _FIXED:
            self.take(struct.calcsize("<" + _FIXED[item]) * count)
        elif item == _STRING:
            self.skip_strings(count)
        else:
            for _ in range(count):
                self.value(item)
        return None


def read_gguf_header(stream: BinaryIO) -> GgufHeader:
    """Parse a GGUF header: magic, version, counts, key/value pairs, then the tensor table."""
    reader = _Reader(stream)
    if reader.take(4) != b"GGUF":
        raise NotGguf("no GGUF magic")
    version = reader.unpack("I")
    if version not in (2, 3):
        raise NotGguf(f"unsupported GGUF version {version}")
    tensors, pairs = reader.unpack("Q"), reader.unpack("Q")
    if tensors > _MAX_COUNT or pairs > _MAX_COUNT:
        raise NotGguf("implausible tensor or metadata count")
    metadata: dict[str, Any] = {}
    for _ in range(pairs):
        key = reader.string()
        value = reader.value(reader.unpack("I"))
        if value is not None:
            metadata[key] = value
    parameters = 0
    for _ in range(tensors):
        reader.string()
        dims = [reader.unpack("Q") for _ in range(reader.unpack("I"))]
        reader.take(12)  # type (uint32) and offset (uint64)
        count = 1
        for dim in dims:
            count *= dim
        parameters += count
    declared = metadata.get("general.parameter_count")
    if isinstance(declared, int) and declared > 0:
        parameters = declared
    return GgufHeader(metadata, parameters)


def read_gguf_file(path: Path) -> GgufHeader:
    """The header of the GGUF file at ``path`` (``NotGguf`` when it is something else)."""
    try:
        with path.open("rb") as stream:
            return read_gguf_header(stream)
    except (OSError, struct.error, UnicodeDecodeError) as error:
        raise NotGguf(str(error)) from error


@dataclass(frozen=True)
class LocalModel:
    """A chat model in GGUF format found on this machine."""

    name: str
    path: Path
    source: str
    size_bytes: int
    parameters: int
    quantisation: str
    architecture: str = ""
    kv_bytes_per_token: int = DEFAULT_KV_BYTES_PER_TOKEN

    @property
    def bits_per_weight(self) -> float:
        """File bits per parameter: how finely it is quantised (higher is better)."""
        return self.size_bytes * 8 / self.parameters if self.parameters else 0.0

    @property
    def parameters_label(self) -> str:
        """The parameter count in words: ``135M``, ``1.7B``, ``8B``; ``?`` when unknown."""
        return parameters_label(self.parameters)

    def memory_needed(self, context_tokens: int) -> int:
        """Bytes of memory to run it: the file plus a fifth, and the KV cache of the context."""
        return int(self.size_bytes * MEMORY_MARGIN) + self.kv_bytes_per_token * context_tokens

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "size_bytes": self.size_bytes,
            "parameters": self.parameters,
            "parameters_label": self.parameters_label,
            "quantisation": self.quantisation,
            "architecture": self.architecture,
        }


def parameters_label(count: int) -> str:
    """``135M``, ``1.7B``, ``8B`` (``?`` for 0)."""
    if count <= 0:
        return "?"
    if count < 1_000_000_000:
        return f"{count / 1e6:.0f}M"
    value = count / 1e9
    return f"{value:.0f}B" if value >= 10 else f"{value:.1f}B".replace(".0B", "B")


def parameters_from_name(name: str) -> int:
    """A parameter count written in a file or model name (``7b``, ``135M``), else 0."""
    match = _SIZE_IN_NAME.search(name)
    if match is None:
        return 0
    scale = 1e9 if match.group(2).upper() == "B" else 1e6
    return int(float(match.group(1)) * scale)


def quantisation_of(header: GgufHeader, name: str) -> str:
    """The quantisation from ``general.file_type``, else from the name (``Q4_K_M``), else ``?``."""
    file_type = header.metadata.get("general.file_type")
    if isinstance(file_type, int) and file_type in FILE_TYPES:
        return FILE_TYPES[file_type]
    match = _QUANT_IN_NAME.search(name)
    return match.group(1).upper() if match else "?"


def describe_gguf(path: Path, name: str, source: str, size_bytes: int | None = None) -> LocalModel:
    """A ``LocalModel`` from a GGUF file's header (``NotGguf`` when it is not one)."""
    header = read_gguf_file(path)
    if not header.is_chat:
        raise NotGguf(f"{header.architecture or 'an embedding'} model, not a chat model")
    return LocalModel(
        name=name,
        path=path,
        source=source,
        size_bytes=path.stat().st_size if size_bytes is None else size_bytes,
        parameters=header.parameters or parameters_from_name(name),
        quantisation=quantisation_of(header, path.name + " " + name),
        architecture=header.architecture,
        kv_bytes_per_token=header.kv_bytes_per_token(),
    )


# Where models are kept.


@dataclass(frozen=True)
class ModelFolders:
    """The folders each kind of model store keeps its files in."""

    ollama: tuple[Path, ...]
    lmstudio: tuple[Path, ...]
    hf_cache: tuple[Path, ...]
    ragkit: tuple[Path, ...]

    @classmethod
    def of(cls, environ: Mapping[str, str], home: Path) -> ModelFolders:
        """The usual places, from the environment (OLLAMA_MODELS, HF_HUB_CACHE, HF_HOME, ...)."""
        ollama = [Path(environ["OLLAMA_MODELS"])] if environ.get("OLLAMA_MODELS") else []
        ollama += [home / ".ollama" / "models", OLLAMA_SYSTEM_MODELS]
        if environ.get("HF_HUB_CACHE"):
            hf = Path(environ["HF_HUB_CACHE"])
        elif environ.get("HF_HOME"):
            hf = Path(environ["HF_HOME"]) / "hub"
        else:
            cache = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else None
            hf = (cache or home / ".cache") / "huggingface" / "hub"
        return cls(
            ollama=tuple(ollama),
            lmstudio=(home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"),
            hf_cache=(hf.expanduser(),),
            ragkit=(models_dir(environ, home),),
        )


def ollama_name(manifest: Path, manifests_root: Path) -> str:
    """``llama3.2:latest`` for the library, ``user/model:tag`` or ``host/user/model:tag``."""
    parts = manifest.relative_to(manifests_root).parts
    *names, tag = parts
    if names[:2] == [OLLAMA_DEFAULT_REGISTRY, "library"]:
        names = names[2:]
    elif names[:1] == [OLLAMA_DEFAULT_REGISTRY]:
        names = names[1:]
    return "/".join(names) + ":" + tag


def ollama_model_blob(manifest: Mapping[str, Any], models_root: Path) -> Path | None:
    """The blob of the model layer an Ollama manifest names (``sha256:<hex>``), if any."""
    for layer in manifest.get("layers") or ():
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
            digest = str(layer.get("digest", ""))
            if re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                return models_root / "blobs" / digest.replace(":", "-")
    return None


def find_ollama(models_root: Path) -> Iterator[tuple[str, Path]]:
    """(name, blob) of each model in an Ollama store: ``manifests/<host>/<ns>/<model>/<tag>``."""
    manifests = models_root / "manifests"
    for manifest in sorted(manifests.glob("*/*/*/*")):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        blob = ollama_model_blob(data, models_root) if isinstance(data, dict) else None
        if blob is not None and blob.is_file():
            yield ollama_name(manifest, manifests), blob


def find_gguf_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(path below ``root``, file) of each GGUF file under a folder (first parts of splits)."""
    for path in sorted(root.rglob("*.gguf")):
        part = _SPLIT_PART.search(path.name)
        if part and int(part.group(1)) != 1:
            continue
        if path.is_file():
            yield path.relative_to(root).as_posix(), path


def find_hf_cache(hub: Path) -> Iterator[tuple[str, Path]]:
    """(``owner/repo/file.gguf``, file) of each GGUF file in a Hugging Face hub cache."""
    for repo in sorted(hub.glob("models--*")):
        owner_repo = repo.name.removeprefix("models--").replace("--", "/")
        for snapshot in sorted((repo / "snapshots").glob("*")):
            for relative, path in find_gguf_files(snapshot):
                yield f"{owner_repo}/{relative}", path


def split_size(path: Path) -> int:
    """The size of a GGUF file, with all its parts when it is split (``-00001-of-00003``)."""
    part = _SPLIT_PART.search(path.name)
    if part is None:
        return path.stat().st_size
    total = 0
    for index in range(1, int(part.group(2)) + 1):
        sibling = path.with_name(
            path.name[: part.start()] + f"-{index:05d}-of-{part.group(2)}.gguf"
        )
        total += sibling.stat().st_size if sibling.is_file() else 0
    return total


def candidates(folders: ModelFolders) -> Iterator[tuple[str, Path, str]]:
    """(name, file, source) of every GGUF file the folders hold."""
    for root in folders.ollama:
        for name, path in find_ollama(root):
            yield name, path, "ollama"
    for root in folders.lmstudio:
        for name, path in find_gguf_files(root):
            yield name, path, "lmstudio"
    for root in folders.hf_cache:
        for name, path in find_hf_cache(root):
            yield name, path, "hf-cache"
    for root in folders.ragkit:
        for name, path in find_gguf_files(root):
            yield name.removesuffix(".gguf"), path, "ragkit"


def discover(folders: ModelFolders, skip: Iterable[Path] = ()) -> list[LocalModel]:
    """The chat GGUF models in these folders, each file once; ``skip`` leaves files out."""
    seen = {_real(path) for path in skip}
    found: list[LocalModel] = []
    for name, path, source in candidates(folders):
        real = _real(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            found.append(describe_gguf(path, name, source, split_size(path)))
        except (NotGguf, OSError):
            continue
    return found


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


# Which one fits, and which one auto picks.


def available_memory(meminfo: str | None = None) -> int | None:
    """Bytes of free memory: MemAvailable of /proc/meminfo, else half the physical memory."""
    if meminfo is None:
        try:
            meminfo = Path("/proc/meminfo").read_text(encoding="ascii")
        except OSError:
            meminfo = ""
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    if match:
        return int(match.group(1)) * 1024
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return None


def fits(model: LocalModel, available: int | None, context_tokens: int) -> bool | None:
    """Whether the model and its context fit in ``available`` bytes (None: unknown)."""
    if available is None:
        return None
    return model.memory_needed(context_tokens) < available


def pick(
    models: Iterable[LocalModel], available: int | None, context_tokens: int
) -> LocalModel | None:
    """The model ``auto`` uses: the most parameters that fit, then more bits, then the name.

    When free memory is unknown every model counts as fitting.
    """
    fitting = [m for m in models if fits(m, available, context_tokens) is not False]
    if not fitting:
        return None
    return min(fitting, key=lambda m: (-m.parameters, -m.bits_per_weight, m.name, m.source))


def local_models(
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    skip: Iterable[Path] = (),
) -> list[LocalModel]:
    """The chat models on this machine, from the usual folders of the environment and home."""
    environ = os.environ if environ is None else environ
    return discover(ModelFolders.of(environ, home or Path.home()), skip)
