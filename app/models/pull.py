"""``rag pull``: download a GGUF answer model from the Hugging Face hub into the data folder.

The pure part names what to fetch (a preset or ``REPO/FILE.gguf``), where it goes and how it
is checked. The download asks the hub (``HF_ENDPOINT``, ``HF_TOKEN``, ``HF_HUB_OFFLINE`` are
honoured by ``huggingface_hub``; proxies and ``NO_PROXY`` by its httpx client) for the file's
size and SHA-256, appends to ``<file>.part`` (resuming with a Range request after a break),
checks both, and only then renames the file into place: a partial file is never used.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.config.paths import models_dir
from app.errors import ProviderError, UsageError
from retrievers.errors import first_line

Progress = Callable[[int, int], None]

CHUNK_BYTES = 1 << 20
ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 1.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class HubFile:
    """One file of a model repository on the hub."""

    repo_id: str
    filename: str
    revision: str = "main"

    @property
    def spec(self) -> str:
        """The ``REPO/FILE`` form ``rag pull`` accepts."""
        return f"{self.repo_id}/{self.filename}"


PRESETS: dict[str, HubFile] = {
    "fast": HubFile("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf"),
    "balanced": HubFile("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf"),
    "accurate": HubFile("bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen2.5-7B-Instruct-Q4_K_M.gguf"),
}


@dataclass(frozen=True)
class RemoteFile:
    """What the hub reports of a file: where to get it, its size and SHA-256."""

    url: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PullResult:
    """A pulled file: where it is, its size and SHA-256, and whether it was there already."""

    path: Path
    size: int
    sha256: str
    downloaded: bool
    verified: bool = True

    def summary(self) -> str:
        """One line: where the file is, its size, its check, and the setting that uses it."""
        size = f"{self.size / 1e9:.2f} GB" if self.size >= 1e9 else f"{self.size / 1e6:.1f} MB"
        if self.verified:
            check = f"sha256 {self.sha256[:12]}… verified"
        else:
            check = "not checked against the hub (HF_HUB_OFFLINE=1)"
        verb = "Downloaded" if self.downloaded else "Already there:"
        return f"{verb} {self.path} ({size}, {check}); use it with RAG_LLM_MODEL={self.path}"


def parse_spec(spec: str) -> HubFile:
    """A preset name, or ``OWNER/REPO/FILE.gguf`` (the file may sit in a subfolder)."""
    text = spec.strip()
    if text in PRESETS:
        return PRESETS[text]
    parts = text.split("/")
    if len(parts) < 3 or not all(parts) or not text.lower().endswith(".gguf"):
        presets = ", ".join(PRESETS)
        raise UsageError(
            f"cannot pull {spec!r}: give a preset ({presets}) or OWNER/REPO/FILE.gguf, "
            "e.g. Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf"
        )
    return HubFile("/".join(parts[:2]), "/".join(parts[2:]))


def target_path(folder: Path, file: HubFile) -> Path:
    """Where a pulled file goes: its file name, directly in the models folder."""
    return folder / Path(file.filename).name


def partial_path(target: Path) -> Path:
    """The file a download is written to until it is checked: ``<target>.part``."""
    return target.with_name(target.name + ".part")


def remote_file_of(url: str, size: int | None, etag: str | None, spec: str) -> RemoteFile:
    """The hub's answer as a RemoteFile; the hub gives a GGUF's SHA-256 as its linked ETag."""
    sha256 = (etag or "").lower()
    if size is None or not _SHA256.match(sha256):
        raise ProviderError(
            f"the hub reports no size and SHA-256 for {spec} (not a large file stored with "
            "LFS?), so it cannot be checked: download it yourself and set RAG_LLM_MODEL"
        )
    return RemoteFile(url, size, sha256)


def check_download(size: int, sha256: str, expected: RemoteFile) -> str | None:
    """Why a downloaded file is refused (its size or SHA-256 differ from the hub's), or None."""
    if size != expected.size:
        return f"it has {size:,} bytes where the hub reports {expected.size:,}"
    if sha256 != expected.sha256:
        return f"its SHA-256 is {sha256[:12]}… where the hub reports {expected.sha256[:12]}…"
    return None


def sha256_of(path: Path, hasher: hashlib._Hash | None = None) -> hashlib._Hash:
    """The SHA-256 of a file's bytes, added to ``hasher`` when given."""
    digest = hasher or hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK_BYTES):
            digest.update(block)
    return digest


def pull(
    spec: str,
    folder: Path | None = None,
    on_progress: Progress | None = None,
    attempts: int = ATTEMPTS,
) -> PullResult:
    """Download ``spec`` into the models folder, checked; a file already there is kept."""
    file = parse_spec(spec)
    target = target_path(folder or models_dir(), file)
    from huggingface_hub import constants

    if constants.is_offline_mode():
        if target.is_file():
            size = target.stat().st_size
            return PullResult(target, size, "", downloaded=False, verified=False)
        raise ProviderError(
            f"HF_HUB_OFFLINE=1: cannot download {file.spec}; unset HF_HUB_OFFLINE, "
            f"or copy the file to {target}"
        )
    remote = _ask_hub(file)
    same_size = target.is_file() and target.stat().st_size == remote.size
    if same_size and sha256_of(target).hexdigest() == remote.sha256:
        return PullResult(target, remote.size, remote.sha256, downloaded=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _one_download_at_a_time(target, file):
        _download(file, remote, partial_path(target), on_progress, attempts)
        os.replace(partial_path(target), target)
        _sync_folder(target.parent)
    return PullResult(target, remote.size, remote.sha256, downloaded=True)


def _hub_failure(file: HubFile, error: Exception) -> ProviderError:
    """A one-line ProviderError for a failed hub request, naming what to do."""
    import httpx
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = constants.ENDPOINT
    reason = first_line(error)
    if isinstance(error, GatedRepoError):
        message = f"{file.repo_id} is gated: accept its terms on the hub and set HF_TOKEN"
    elif isinstance(error, RepositoryNotFoundError):
        message = f"no repository {file.repo_id} at {endpoint} (or it is private: set HF_TOKEN)"
    elif isinstance(error, RevisionNotFoundError):
        message = f"{file.repo_id} has no revision {file.revision}"
    elif isinstance(error, RemoteEntryNotFoundError):
        message = f"{file.repo_id} has no file {file.filename}: check the name on the hub"
    elif isinstance(error, httpx.ProxyError):
        message = f"the proxy refused the request to {endpoint} ({reason}): check HTTPS_PROXY"
    elif isinstance(error, httpx.TransportError):
        message = (
            f"cannot reach the hub at {endpoint} ({reason}): check the network, HF_ENDPOINT "
            "(a mirror) and HTTPS_PROXY / NO_PROXY"
        )
    else:
        message = f"the hub at {endpoint} refused {file.spec}: {reason}"
    return ProviderError(message)


def _ask_hub(file: HubFile) -> RemoteFile:
    """The size and SHA-256 the hub reports for a file (a HEAD request on its resolve URL)."""
    import httpx
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    url = hf_hub_url(file.repo_id, file.filename, revision=file.revision)
    try:
        metadata = get_hf_file_metadata(url)
    except (HfHubHTTPError, httpx.HTTPError) as error:
        raise _hub_failure(file, error) from error
    return remote_file_of(url, metadata.size, metadata.etag, file.spec)


def _download(
    file: HubFile,
    remote: RemoteFile,
    part: Path,
    on_progress: Progress | None,
    attempts: int,
) -> None:
    """Fill ``part`` with the file, resuming what is there; refuse and delete it if it is wrong."""
    import httpx

    hasher = hashlib.sha256()
    if part.is_file() and part.stat().st_size <= remote.size:
        sha256_of(part, hasher)
    else:
        part.unlink(missing_ok=True)
    with part.open("ab") as stream:
        for attempt in range(1, attempts + 1):
            try:
                hasher = _fetch_rest(file, remote, stream, hasher, on_progress)
                break
            except httpx.TransportError as error:
                if attempt == attempts:
                    done = stream.tell()
                    raise ProviderError(
                        f"the download of {file.spec} broke off at {done / 1e6:,.1f} of "
                        f"{remote.size / 1e6:,.1f} MB ({first_line(error)}): run the same "
                        "`rag pull` again to resume it"
                    ) from error
                time.sleep(RETRY_PAUSE_SECONDS * attempt)
        stream.flush()
        os.fsync(stream.fileno())
        size = stream.tell()
    refused = check_download(size, hasher.hexdigest(), remote)
    if refused:
        part.unlink(missing_ok=True)
        raise ProviderError(
            f"refused the download of {file.spec}: {refused}; deleted the partial file "
            "(a mirror or proxy may have altered it): run `rag pull` again"
        )


def _fetch_rest(
    file: HubFile,
    remote: RemoteFile,
    stream: BinaryIO,
    hasher: hashlib._Hash,
    on_progress: Progress | None,
) -> hashlib._Hash:
    """One GET of the bytes ``stream`` lacks (a Range request when it has some)."""
    from huggingface_hub import constants, get_session, hf_raise_for_status
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    done = stream.tell()
    if done >= remote.size:
        return hasher
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if done:
        headers["Range"] = f"bytes={done}-"
    timeout = float(constants.HF_HUB_DOWNLOAD_TIMEOUT)
    with get_session().stream("GET", remote.url, headers=headers, timeout=timeout) as response:
        try:
            hf_raise_for_status(response)
        except HfHubHTTPError as error:
            raise _hub_failure(file, error) from error
        if done and response.status_code != 206:
            # The server ignored the Range header: start again from the first byte.
            stream.seek(0)
            stream.truncate()
            hasher, done = hashlib.sha256(), 0
        for block in response.iter_bytes(CHUNK_BYTES):
            stream.write(block)
            hasher.update(block)
            done += len(block)
            if on_progress is not None:
                on_progress(done, remote.size)
    return hasher


@contextmanager
def _one_download_at_a_time(target: Path, file: HubFile) -> Iterator[None]:
    """Hold ``.<target>.lock`` so two pulls never write one partial file."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(target.with_name(f".{target.name}.lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ProviderError(
            f"another `rag pull` is downloading {file.spec} into {target.parent}: wait for it"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
