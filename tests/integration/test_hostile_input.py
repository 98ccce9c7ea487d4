"""Real folders hold broken, odd and hostile files: each is indexed or skipped with a reason."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from retrievers.snapshots import current_snapshot
from tests.integration.conftest import rag_env, run_json, run_rag
from tests.support.pdf import make_text_pdf

pytestmark = pytest.mark.integration

GBK_TEXT = "本地模型的量化等级决定了内存占用，四位量化的七十亿参数模型大约需要五GB内存。"


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_text_pdf(["classified plans"]))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _build_corpus(root: Path, outside: Path) -> dict[str, str]:
    """Write every kind of bad input; return {file name: expected reason or 'indexed'}."""
    files: dict[str, bytes] = {
        "good.md": b"# Good\n\nThe quarterly report is due on the ninth of March.",
        "binary.txt": b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,
        "invalid-utf8.txt": "Résumé of the café meeting: déjà vu. ".encode("cp1252") * 5,
        "utf16-bom.txt": "UTF-16 text with a byte order mark: grüße.".encode("utf-16"),
        "gbk-chinese.txt": GBK_TEXT.encode("gbk"),
        "empty.txt": b"",
        "too-big.txt": b"big file line\n" * 80_000,
        "long-line.txt": ("word" * 250_000).encode(),
        "corrupt.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage %%EOF",
        "encrypted.pdf": _encrypted_pdf(),
        "no-text-layer.pdf": make_text_pdf([""]),
        "scripts.html": (
            b"<html><head><script>alert('evil script')</script><style>b{}</style></head>"
            b"<body><script>document.write('more evil')</script><p>Visible words only.</p>"
            b"</body></html>"
        ),
        "unreadable.txt": b"you cannot read me",
        "new\nline.txt": b"A file whose name holds a newline.",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    os.chmod(root / "unreadable.txt", 0)
    with open(os.path.join(os.fsencode(root), b"caf\xe9-latin1-name.txt"), "wb") as handle:
        handle.write(b"A file whose name is not UTF-8.")
    deep = root.joinpath(*[f"d{i}" for i in range(50)])
    deep.mkdir(parents=True)
    (deep / "deep.md").write_text("Fifty folders down lives this note.", encoding="utf-8")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (outside / "elsewhere.md").write_text("Outside the ingested folder.", encoding="utf-8")
    (root / "outside-link.md").symlink_to(outside / "elsewhere.md")
    return {
        "good.md": "indexed",
        "binary.txt": "binary file",
        "invalid-utf8.txt": "indexed",
        "utf16-bom.txt": "indexed",
        "gbk-chinese.txt": "indexed",
        "empty.txt": "empty file",
        "too-big.txt": "larger than 1 MB",
        "long-line.txt": "indexed",
        "corrupt.pdf": "broken PDF",
        "encrypted.pdf": "encrypted PDF",
        "no-text-layer.pdf": "PDF has no text layer",
        "scripts.html": "indexed",
        "unreadable.txt": "unreadable (Permission denied)",
        "new\\nline.txt": "indexed",
        "caf\\xe9-latin1-name.txt": "indexed",
        "deep.md": "indexed",
        "loop": "symlink loop",
        "outside-link.md": "symlink to outside the ingested folder",
    }


def _without_dac_override() -> list[str]:
    """Root reads any file; drop that power so a mode-000 file is really unreadable."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_every_bad_input_is_indexed_or_skipped_with_one_line(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    index_dir = tmp_path / "index"
    env = rag_env(index_dir, RAG_MAX_FILE_MB="1", RAG_CHUNK_SIZE="4000", RAG_CHUNK_OVERLAP="0")

    (root / "was-good.txt").write_text("The old note about the lighthouse keeper.", "utf-8")
    run_rag(["ingest", str(root)], env)
    (root / "was-good.txt").write_bytes(b"\x00\x00\x00 now binary")
    expected = _build_corpus(root, outside)
    expected["was-good.txt"] = "binary file"

    import subprocess

    result = subprocess.run(
        [*_without_dac_override(), sys.executable, "-m", "app", "ingest", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert "Traceback" not in result.stderr
    skipped = {name: reason for name, reason in expected.items() if reason != "indexed"}
    for name, reason in skipped.items():
        lines = [w for w in warnings if f"{name}: " in w]
        assert len(lines) == 1, (name, warnings)
        assert reason in lines[0], lines[0]
    assert len(warnings) == len(skipped)
    summary = result.stdout.strip()
    assert re.search(rf"skipped {len(skipped)} \(", summary), summary

    docstore = (current_snapshot(index_dir) / "docstore.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in docstore.splitlines()]
    sources = {row["metadata"]["source"].rsplit("/", 1)[-1] for row in rows}
    indexed = {name for name, reason in expected.items() if reason == "indexed"}
    assert indexed <= sources, indexed - sources
    texts = "\n".join(row["text"] for row in rows)
    assert "lighthouse keeper" in texts  # indexed before, broken now: kept
    assert GBK_TEXT in texts
    assert "grüße" in texts
    assert "café" in texts
    assert "Visible words only." in texts and "evil" not in texts
    assert "Outside the ingested folder." not in texts

    hits = run_json(["ask", "Where does the deep note live?", "--retrieve-only", "--json"], env)
    assert hits["sources"]


def test_follow_symlinks_and_strict(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "note.md").write_text("A note inside.", encoding="utf-8")
    (outside / "elsewhere.md").write_text("Outside the ingested folder.", encoding="utf-8")
    (root / "link.md").symlink_to(outside / "elsewhere.md")
    index_dir = tmp_path / "index"
    env = rag_env(index_dir)

    strict = run_rag(["ingest", str(root), "--strict"], env, check=False)
    assert strict.returncode == 1
    assert "--strict" in strict.stderr and "not changed" in strict.stderr
    assert not (index_dir / "CURRENT").exists()

    followed = run_rag(["ingest", str(root), "--follow-symlinks", "--json"], env)
    report = json.loads(followed.stdout)
    assert report["total_files"] == 2 and report["skipped"] == []
