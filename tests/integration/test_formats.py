"""Every supported format, made by a real tool, is indexed and found by `rag ask`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import rag_env, run_json, run_rag
from tests.support.documents import SENTENCES, make_all

pytestmark = pytest.mark.integration

# Which file each sentence lives in, when it is not the key itself.
FILE_OF = {"deck-notes": "deck.pptx", "attachment": "message.eml"}
QUESTIONS = {
    "budget.xlsx": "Which spice comes from Kashmir and what is its price per gram?",
    "people.csv": "Who is the night porter and what is his extension?",
    "stock.ods": "Which preserve is on the top shelf left in the pantry?",
    "geometry.py": "How is the hexagon perimeter computed from its side?",
    "config.yaml": "What is the zeppelin hangar capacity of the airfield?",
}


@pytest.fixture(scope="module")
def formats_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("formats") / "docs"
    make_all(folder)
    index_dir = folder.parent / "index"
    report = run_json(["ingest", str(folder), "--json"], rag_env(index_dir))
    assert report["skipped"] == [], report["skipped"]
    assert report["total_files"] == len({FILE_OF.get(key, key) for key in SENTENCES})
    return index_dir


@pytest.mark.parametrize("key", sorted(SENTENCES))
def test_each_format_is_found_and_cited_with_its_place(formats_index: Path, key: str) -> None:
    sentence, page = SENTENCES[key]
    question = QUESTIONS.get(key, sentence)
    data = run_json(
        ["ask", question, "--retrieve-only", "--json", "--k", "3"], rag_env(formats_index)
    )
    best = data["sources"][0]
    assert best["source"] == FILE_OF.get(key, key), data["sources"]
    assert sentence in best["text"]
    assert best["page"] == page


def test_a_pdf_table_cell_is_found_by_its_row_and_column_words(tmp_path: Path) -> None:
    from tests.support.documents import make_table_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    make_table_pdf(folder / "tea.pdf")
    (folder / "other.md").write_text("# Coffee\n\nThe coffee harvest was late.", "utf-8")
    env = rag_env(tmp_path / "index")
    run_json(["ingest", str(folder), "--json"], env)
    data = run_json(
        ["ask", "Harvest tonnes of Assam", "--retrieve-only", "--json", "--k", "2"], env
    )
    best = data["sources"][0]
    assert (best["source"], best["page"]) == ("tea.pdf", 2)
    assert "| Assam | 958 | 2800 |" in best["text"].splitlines()


def test_chunks_carry_their_section_path_into_citations(formats_index: Path) -> None:
    question = "Where does the turquoise submarine dock?"
    data = run_json(
        ["ask", question, "--retrieve-only", "--json", "--k", "1"], rag_env(formats_index)
    )
    assert data["sources"][0]["section"] == "Harbour report > Schedule"
    shown = run_rag(["ask", question, "--retrieve-only", "--k", "1"], rag_env(formats_index))
    assert "report.docx (chunk 1," in shown.stdout
    assert "in Harbour report > Schedule" in shown.stdout
