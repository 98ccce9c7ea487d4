"""FAISS index types: exact (flat), graph (hnsw) and compressed (ivf-sq8), built from vectors.

Every type ranks by the inner product of L2-normalised vectors, i.e. cosine similarity. The
parameters were chosen by ``benchmarks/search.py`` so that recall@10 against exact search
stays at or above 0.95 (approximate results are re-scored with the stored vectors anyway).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from retrievers.manifest import IndexSpec

if TYPE_CHECKING:
    import faiss

INDEX_TYPES: tuple[str, ...] = ("flat", "hnsw", "ivf-sq8")
AUTO = "auto"
VECTOR_DTYPES: tuple[str, ...] = ("float32", "float16")
AUTO_FLAT_BELOW = 50_000
"""``auto`` searches exactly below this many chunks (a few milliseconds a query)."""
AUTO_HNSW_BELOW = 250_000
"""``auto`` uses hnsw up to here; above it the float vectors of a graph index outgrow RAM."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 192
"""Recall@10 0.997 on SciFact MiniLM vectors at 10k, 0.976 on hard synthetic ones at 100k."""
IVF_MIN_NPROBE = 32
IVF_PROBED_SHARE = 4
"""Search a quarter of the clusters: MiniLM vectors need it (recall@10 0.98 on SciFact)."""
IVF_TRAIN_SAMPLE = 100_000
"""Clustering is trained on at most this many vectors, so building stays bounded at 1M."""
IVF_MIN_POINTS_PER_LIST = 39
REFINE_FACTOR = 2
"""Approximate types fetch this many times ``k`` candidates, then re-score them exactly."""


def resolve_index_type(requested: str, count: int) -> str:
    """The concrete type for ``requested`` (a type or ``auto``) at ``count`` chunks."""
    if requested == AUTO:
        if count < AUTO_FLAT_BELOW:
            return "flat"
        return "hnsw" if count < AUTO_HNSW_BELOW else "ivf-sq8"
    if requested not in INDEX_TYPES:
        raise ValueError(f"unknown index type {requested!r}; use {', '.join(INDEX_TYPES)}")
    # A graph or clustering needs points: an empty index is searched exactly.
    return requested if count > 0 else "flat"


def index_spec_for(requested: str, count: int, vector_dtype: str = "float32") -> IndexSpec:
    """Type and default parameters for ``count`` chunks, as recorded in the manifest."""
    if vector_dtype not in VECTOR_DTYPES:
        raise ValueError(f"unknown vector dtype {vector_dtype!r}; use {', '.join(VECTOR_DTYPES)}")
    kind = resolve_index_type(requested, count)
    params: dict[str, int] = {}
    if kind == "hnsw":
        params = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
    elif kind == "ivf-sq8":
        nlist = ivf_list_count(count)
        params = {
            "nlist": nlist,
            "nprobe": min(nlist, max(IVF_MIN_NPROBE, nlist // IVF_PROBED_SHARE)),
        }
    return IndexSpec(kind, params, vector_dtype)


def needs_rebuild(current: IndexSpec, count: int, requested: str, vector_dtype: str) -> bool:
    """True when ``count`` chunks indexed as ``current`` should be rebuilt as ``requested``.

    That is: another type, other parameters or another vector dtype.
    """
    return index_spec_for(requested, count, vector_dtype) != current


def ivf_list_count(count: int) -> int:
    """About 4 * sqrt(n) clusters, with enough training points for each."""
    most = max(1, min(count, IVF_TRAIN_SAMPLE) // IVF_MIN_POINTS_PER_LIST)
    return max(1, min(round(4 * math.sqrt(count)), most))


def build_faiss_index(spec: IndexSpec, vectors: npt.NDArray[np.float32]) -> faiss.Index:
    """A FAISS index of type ``spec`` holding the (normalised, float32) ``vectors`` in order."""
    import faiss

    dimension = vectors.shape[1]
    store: faiss.Index
    if spec.type == "flat":
        store = faiss.IndexFlatIP(dimension)
    elif spec.type == "hnsw":
        store = faiss.IndexHNSWFlat(dimension, spec.params["M"], faiss.METRIC_INNER_PRODUCT)
        store.hnsw.efConstruction = spec.params["efConstruction"]
    elif spec.type == "ivf-sq8":
        store = faiss.index_factory(
            dimension, f"IVF{spec.params['nlist']},SQ8", faiss.METRIC_INNER_PRODUCT
        )
        store.train(_training_sample(vectors))
    else:
        raise ValueError(f"unknown index type {spec.type!r}")
    if len(vectors):
        store.add(vectors)
    apply_search_params(store, spec)
    return store


def apply_search_params(store: faiss.Index, spec: IndexSpec) -> None:
    """Set the search-time parameters (efSearch, nprobe) of the manifest on a loaded index."""
    import faiss

    space = faiss.ParameterSpace()
    for name in ("efSearch", "nprobe"):
        if name in spec.params:
            space.set_index_parameter(store, name, spec.params[name])


def _training_sample(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    if len(vectors) <= IVF_TRAIN_SAMPLE:
        return vectors
    rows = np.random.default_rng(0).choice(len(vectors), IVF_TRAIN_SAMPLE, replace=False)
    return np.ascontiguousarray(vectors[np.sort(rows)])
