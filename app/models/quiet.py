"""Silence the Hugging Face libraries' progress bars and advice on stderr."""

from __future__ import annotations

import os


def quiet_transformers() -> None:
    """No tokenizers fork warning, no transformers progress bars or info logs."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    except ImportError:
        pass
