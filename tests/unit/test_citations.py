from chains.citations import check_citations


def test_valid_citations_are_kept_and_listed() -> None:
    checked = check_citations("Ollama uses port 11434 [1]. Backups run at 02:30 [2, 1].", 2)
    assert checked.text == "Ollama uses port 11434 [1]. Backups run at 02:30 [2, 1]."
    assert checked.cited == (1, 2)
    assert checked.removed == ()


def test_citations_to_missing_sources_are_removed_and_reported() -> None:
    checked = check_citations("It runs nightly [7]. See also [0; 2] and [3][9].", 3)
    assert checked.text == "It runs nightly. See also [2] and [3]."
    assert checked.cited == (2, 3)
    assert checked.removed == (7, 0, 9)


def test_text_without_citations_is_unchanged() -> None:
    checked = check_citations("No brackets here, only [notes].", 2)
    assert checked.text == "No brackets here, only [notes]."
    assert checked.cited == ()
