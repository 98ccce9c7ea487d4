"""HTML: the page title and its visible text, one block a line."""

from __future__ import annotations

from html.parser import HTMLParser

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})


class _VisibleText(HTMLParser):
    """Collects visible text and the title, dropping scripts, styles and the like."""

    HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
    BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "pre",
            "blockquote",
            "table",
            "ul",
            "ol",
            "dt",
            "dd",
        }
    )

    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.HIDDEN:
            self._hidden_depth += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
            if tag in self.HEADINGS and self._hidden_depth == 0:
                self.parts.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._hidden_depth == 0:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str | None, str]:
    """Return the page title and its visible text, one block a line, headings as ``#`` lines."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line.strip("# "))
    title = " ".join("".join(parser.title_parts).split()) or None
    return title, text
