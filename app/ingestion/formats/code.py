"""Source code, notebooks and data files as text; code keeps its language for the splitter."""

from __future__ import annotations

import json

from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.text import decode_text

# Suffix -> a langchain_text_splitters.Language value (None: split as plain text).
CODE_LANGUAGES: dict[str, str | None] = {
    ".py": "python",
    ".js": "js",
    ".mjs": "js",
    ".jsx": "js",
    ".ts": "ts",
    ".tsx": "ts",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".scala": "scala",
    ".swift": "swift",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cc": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".lua": "lua",
    ".pl": "perl",
    ".hs": "haskell",
    ".ex": "elixir",
    ".ps1": "powershell",
    ".proto": "proto",
    ".sol": "sol",
    ".sh": None,
    ".bash": None,
    ".sql": None,
    ".r": None,
}
CODE_SUFFIXES = frozenset(CODE_LANGUAGES)
DATA_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml"})
NOTEBOOK_SUFFIXES = frozenset({".ipynb"})


def parse_code(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    """A source file as one Page, with its language for the function-aware splitter."""
    return ParsedDocument(fallback_title, (Page(decode_text(data)),), CODE_LANGUAGES.get(suffix))


def parse_notebook(data: bytes, fallback_title: str) -> ParsedDocument:
    """A Jupyter notebook: Markdown cells, code cells in fences, text outputs after them."""
    try:
        notebook = json.loads(decode_text(data))
        cells = notebook.get("cells", [])
        language = notebook.get("metadata", {}).get("kernelspec", {}).get("language", "")
        blocks = []
        for cell in cells:
            source = _joined(cell.get("source", ""))
            if cell.get("cell_type") == "code":
                if source.strip():
                    blocks.append(f"```{language}\n{source}\n```")
                blocks.extend(_output_text(output) for output in cell.get("outputs", []))
            elif source.strip():
                blocks.append(source)
    except (ValueError, AttributeError, TypeError) as error:
        raise UnreadableDocument(f"broken notebook ({type(error).__name__}: {error})") from None
    text = "\n\n".join(block for block in blocks if block.strip())
    heading = next((b[2:].split("\n", 1)[0] for b in blocks if b.startswith("# ")), None)
    return ParsedDocument(heading or fallback_title, (Page(text),))


def _joined(source: object) -> str:
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def _output_text(output: dict[str, object]) -> str:
    if "text" in output:
        return _joined(output["text"])
    data = output.get("data")
    if isinstance(data, dict) and "text/plain" in data:
        return _joined(data["text/plain"])
    return ""
