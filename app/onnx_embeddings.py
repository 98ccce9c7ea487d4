"""Sentence embeddings from an exported ONNX model: tokenizers + ONNX Runtime + numpy pooling.

No torch at run time: a query embedded with the onnx backends loads in a fraction of
the time torch needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from app.onnx_export import CONFIG_FILE, TOKENIZER_FILE

if TYPE_CHECKING:
    import numpy.typing as npt

BATCH_SIZE = 32


class OnnxEmbeddings(Embeddings):
    """LangChain embeddings over one ONNX file; vectors are L2-normalised like torch's."""

    def __init__(self, model_file: Path, folder: Path, batch_size: int = BATCH_SIZE) -> None:
        """Load the session, the tokenizer and the pooling settings of an export folder."""
        import onnxruntime
        from tokenizers import Tokenizer

        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        self.inputs: list[str] = list(config["inputs"])
        self.pooling: str = str(config["pooling"])
        self.dimension = int(config["dimension"])
        self.pad_id = int(config.get("pad_id", 0))
        self.batch_size = batch_size
        self.model_file = model_file
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(int(config["max_length"]))
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed in batches of similar length (less padding), rows in input order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            rows[batch] = self._embed_batch([texts[i] for i in batch])
        return rows.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self._embed_batch([text])[0].tolist()  # type: ignore[no-any-return]

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        width = max((len(e.ids) for e in encodings), default=1)
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        types = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            types[row, :length] = encoding.type_ids
            mask[row, :length] = 1
        columns = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {name: columns[name] for name in self.inputs})[0]
        return _normalize(_pool(hidden, mask.astype(np.float32), self.pooling))


def _pool(hidden: Any, mask: npt.NDArray[np.float32], mode: str) -> npt.NDArray[np.float32]:
    """Sentence vectors from token states: mean over real tokens, the first token, or max."""
    if mode == "cls":
        return np.asarray(hidden[:, 0], dtype=np.float32)
    if mode == "max":
        masked = np.where(mask[..., None] > 0, hidden, -np.inf)
        return np.asarray(masked.max(axis=1), dtype=np.float32)
    summed = (hidden * mask[..., None]).sum(axis=1)
    return np.asarray(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9), np.float32)


def _normalize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
