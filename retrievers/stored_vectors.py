"""The rows of a ``vectors.npy`` file, read on demand: a search needs only a few of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


class StoredVectorFile:
    """The rows of a vectors.npy file, read with ``pread`` when asked for.

    Rows are read with ``pread`` rather than memory-mapped: a mapped file pulls whole
    page-cache folios (about 1 MB) into the process for each row, and a long-running
    process ends up holding the whole file.
    """

    def __init__(self, path: Path) -> None:
        """Open the file and check its header; raises ``ValueError`` when it is not usable."""
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = handle.tell()
        if fortran or dtype.hasobject or len(shape) != 2:
            raise ValueError("not a plain two-dimensional numeric array")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        if path.stat().st_size < offset + self.shape[0] * self._row_bytes:
            raise ValueError("the file is shorter than its header says")
        self._offset = offset
        self._descriptor = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        """Close the file (at interpreter exit the modules may already be gone)."""
        try:  # noqa: SIM105 - contextlib may be torn down already at exit
            os.close(self._descriptor)
        except (AttributeError, OSError, TypeError):
            pass

    def __getitem__(self, rows: int | npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """One row, or the given rows in order."""
        picked = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        data = b"".join(
            os.pread(self._descriptor, self._row_bytes, self._offset + row * self._row_bytes)
            for row in picked.tolist()
        )
        array = np.frombuffer(data, dtype=self.dtype).reshape(len(picked), self.shape[1])
        return array[0] if np.ndim(rows) == 0 else array

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        """Every row (read in full)."""
        # Through the open descriptor: the snapshot folder may have been pruned since.
        with os.fdopen(os.dup(self._descriptor), "rb") as handle:
            handle.seek(self._offset)
            count = self.shape[0] * self.shape[1]
            array = np.fromfile(handle, dtype=self.dtype, count=count).reshape(self.shape)
        return array if dtype is None else array.astype(dtype, copy=False)
