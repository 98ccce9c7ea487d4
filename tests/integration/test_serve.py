"""``rag serve`` end to end: a real uvicorn on 127.0.0.1, driven with httpx.

One server answers with quotes over a copy of the sample index (uploads, paths under a root,
small upload limits); another needs a token and lets SmolLM2 write, with no room to wait in the
answer queue, so a second question while one is written is refused with Retry-After.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import rag_env, run_rag
from tests.support.rag_server import StreamedAnswer, rag_server

TOKEN = "test-token-5c1f"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder under which the server may index paths (RAG_SERVE_ROOTS)."""
    folder = tmp_path_factory.mktemp("roots") / "allowed"
    (folder / "many").mkdir(parents=True)
    (folder / "owls.md").write_text(
        "# Owls\n\nThe barn owl of the sample farm is called Hedwig-7 and hunts at dusk.\n",
        encoding="utf-8",
    )
    for number in range(400):
        (folder / "many" / f"note-{number}.md").write_text(
            f"# Note {number}\n\nNote {number} records the weather of day {number}: "
            f"{'sunny' if number % 2 else 'rainy'}, wind {number % 7} knots.\n" * 3,
            encoding="utf-8",
        )
    (folder.parent / "secret.txt").write_text("outside the roots\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: its index, its log, its user data folder (uploads under data/)."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def server(sample_index: Path, root: Path, work: Path) -> Iterator[str]:
    """A quoting server over its own copy of the sample index."""
    index = work / "index"
    shutil.copytree(sample_index, index)
    env = rag_env(
        index,
        RAG_SERVE_ROOTS=str(root),
        RAG_MAX_FILE_MB="1",
        RAG_SERVE_MAX_UPLOAD_MB="3",
        RAG_SERVE_MAX_FILES="3",
        XDG_DATA_HOME=str(work / "data"),
    )
    with rag_server(env, work / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as client:
        yield client


def wait_for_job(api: httpx.Client, job_id: str, seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/api/jobs/{job_id}").json()
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {seconds} s")


def events_of(response: httpx.Response) -> list[tuple[str, Any]]:
    """The server-sent events of a streamed response, as (event, parsed data)."""
    found = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_status_documents_and_a_chunk_have_the_cli_fields(api: httpx.Client) -> None:
    status = api.get("/api/status").json()
    assert status["files"] >= 5 and status["chunks"] >= 20
    assert set(status) == {
        "index_dir", "files", "chunks", "embedding", "dimension", "size_bytes",
        "created_at", "chunking", "index_type",
    }  # fmt: skip
    documents = api.get("/api/documents").json()["documents"]
    sources = {item["source"] for item in documents}
    assert {"ollama-notes.md", "proxy-troubleshooting.txt", "field-guide.pdf"} <= sources
    hit = api.post("/api/search", json={"question": "Clash proxy port 7890", "k": 2}).json()
    assert len(hit["sources"]) == 2
    assert hit["sources"][0]["source"] == "proxy-troubleshooting.txt"
    chunk = api.get(f"/api/chunks/{hit['sources'][0]['id']}").json()
    assert chunk["text"] == hit["sources"][0]["text"] and chunk["score"] == 0.0


def test_ask_returns_the_answer_with_sources_evidence_and_its_kind(api: httpx.Client) -> None:
    answer = api.post("/api/ask", json={"question": "How do I import a GGUF model into Ollama?"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["answer_kind"] == "quoted" and "ollama create" in data["answer"]
    assert data["sources"][0]["source"] == "ollama-notes.md"
    assert data["evidence"] and data["quoted_from"]["source"] == "ollama-notes.md"


def test_ask_streams_tokens_then_one_answer_event(api: httpx.Client) -> None:
    with api.stream(
        "POST",
        "/api/ask",
        json={"question": "What port does Ollama use?"},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    events = events_of(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert "token" in kinds
    text = "".join(data["text"] for kind, data in events if kind == "token")
    final = events[-1][1]
    assert "11434" in text and final["sources"]
    assert final["answer"].replace("**", "") == text.replace("**", "")


def test_a_follow_up_is_condensed_with_its_history(api: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "How do I import a GGUF model into Ollama?"},
        {"role": "assistant", "content": "Write a Modelfile with FROM and run ollama create."},
    ]
    data = api.post(
        "/api/ask", json={"question": "And how do I run it afterwards?", "history": history}
    ).json()
    assert data["question"] == "And how do I run it afterwards?"
    assert data["sources"][0]["source"] == "ollama-notes.md"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "/api/ask", {"question": ""}, 400, "UsageError"),
        ("POST", "/api/ask", {"question": "x", "k": 0}, 400, "UsageError"),
        ("POST", "/api/search", {"question": "x", "mode": "psychic"}, 400, "UsageError"),
        ("POST", "/api/search", {"question": "x", "unknown": 1}, 400, "UsageError"),
        ("GET", "/api/chunks/no-such-chunk", None, 404, "NotInIndexError"),
        ("GET", "/api/jobs/no-such-job", None, 404, "NotInIndexError"),
        ("DELETE", "/api/documents/nope.md", None, 404, "NotInIndexError"),
        ("GET", "/api/nothing-here", None, 404, "NotFound"),
        ("PUT", "/api/status", None, 405, "MethodNotAllowed"),
    ],
)
def test_errors_have_one_shape_and_their_status(
    api: httpx.Client, method: str, path: str, body: Any, status: int, kind: str
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"type", "message"} and error["type"] == kind
    assert "\n" not in error["message"] and "Traceback" not in response.text


def test_the_docs_page_loads_nothing_from_another_host(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert not re.findall(r"https?:|//[a-z]", page.text, flags=re.IGNORECASE), page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3 and "url: '/openapi.json'" in page.text
    for asset in assets:
        response = api.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert api.get("/docs-assets/redoc.standalone.js").status_code == 404


def test_a_body_that_is_not_json_is_a_bad_request(api: httpx.Client) -> None:
    response = api.post(
        "/api/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "UsageError"


def test_an_upload_is_indexed_in_the_background_then_answers_and_can_be_forgotten(
    api: httpx.Client,
) -> None:
    files = [
        ("files", ("../../zebra notes.md", b"# Zebras\n\nThe zebra gate code is ZX-4471.\n")),
        ("files", ("lynx.txt", b"The lynx enclosure opens at 09:30 every morning.\n")),
    ]
    started = api.post("/api/ingest", files=files)
    assert started.status_code == 202
    job = wait_for_job(api, started.json()["id"])
    assert job["state"] == "done", job
    assert (job["files_done"], job["files_total"]) == (2, 2) and job["report"]["files_added"] == 2
    sources = {item["source"] for item in api.get("/api/documents").json()["documents"]}
    assert {"zebra notes.md", "lynx.txt"} <= sources  # the name lost its folders
    answer = api.post("/api/ask", json={"question": "What is the zebra gate code?"}).json()
    assert "ZX-4471" in answer["answer"] and answer["sources"][0]["source"] == "zebra notes.md"

    forgotten = api.delete("/api/documents/lynx.txt")
    assert forgotten.status_code == 200 and forgotten.json()["removed"] == ["lynx.txt"]
    sources = {item["source"] for item in api.get("/api/documents").json()["documents"]}
    assert "lynx.txt" not in sources and "zebra notes.md" in sources


def test_a_path_under_the_roots_is_indexed_and_a_second_writer_gets_409(
    api: httpx.Client, root: Path
) -> None:
    first = api.post("/api/ingest", json={"path": str(root / "many")})
    assert first.status_code == 202, first.text
    job_id = first.json()["id"]
    second = api.post("/api/ingest", json={"path": "owls.md"})
    busy = api.delete("/api/documents/zebra notes.md")
    # Readers are served while the writer works.
    during = api.post("/api/search", json={"question": "GGUF Modelfile", "k": 1})
    job = wait_for_job(api, job_id)
    assert second.status_code == 409, "the first ingest ended before the second began"
    assert second.json()["error"]["type"] == "IndexBusyError"
    assert job_id in second.json()["error"]["message"]
    assert busy.status_code == 409
    assert during.status_code == 200 and during.json()["sources"][0]["source"] == "ollama-notes.md"
    assert job["state"] == "done" and job["report"]["files_added"] == 400
    assert (job["files_done"], job["files_total"]) == (400, 400)
    owls = api.post("/api/ingest", json={"path": "owls.md"})
    assert wait_for_job(api, owls.json()["id"])["state"] == "done"
    answer = api.post("/api/ask", json={"question": "What is the barn owl called?"}).json()
    assert "Hedwig-7" in answer["answer"]


def multipart_in_two_parts(name: str, content: bytes, go_on: threading.Event) -> Any:
    """Headers and a multipart body whose second half waits for ``go_on``."""
    boundary = "ragkit-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/markdown\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def parts() -> Iterator[bytes]:
        yield body[:40]
        go_on.wait(60)
        yield body[40:]

    headers = {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "content-length": str(len(body)),
    }
    return headers, parts()


def test_an_upload_refused_with_409_leaves_no_file_and_a_job_counts_its_files(
    api: httpx.Client, root: Path, work: Path
) -> None:
    folder = root / "slow"
    folder.mkdir()
    for number in range(300):
        (folder / f"slow-{number}.md").write_text(
            f"# Slow {number}\n\nSlow note {number} is about the kiln at {number} degrees.\n" * 4,
            encoding="utf-8",
        )
    (folder / "blank.md").write_text("", encoding="utf-8")
    go_on = threading.Event()
    headers, body = multipart_in_two_parts("late-upload.md", b"# Late\n\nToo late.\n", go_on)
    refused: list[httpx.Response] = []
    uploader = threading.Thread(
        target=lambda: refused.append(api.post("/api/ingest", content=body, headers=headers))
    )
    uploader.start()
    try:
        time.sleep(1.0)  # the upload's headers are in: no writer was running then
        started = api.post("/api/ingest", json={"path": "slow"})
    finally:
        go_on.set()
        uploader.join(60)
    assert started.status_code == 202, started.text
    progress = []
    while (job := api.get(f"/api/jobs/{started.json()['id']}").json())["state"] == "running":
        progress.append((job["files_done"], job["files_total"]))
        time.sleep(0.05)
    assert refused[0].status_code == 409, refused[0].text
    assert refused[0].json()["error"]["type"] == "IndexBusyError"
    assert not list((work / "data").rglob("late-upload.md")), "the refused upload was kept"
    assert job["state"] == "done", job
    assert (job["files_done"], job["files_total"]) == (301, 301)
    assert all(done <= total == 301 for done, total in progress if total)
    assert [item["reason"] for item in job["skipped"]] == ["empty file"]
    assert job["skipped"][0]["path"].endswith("blank.md")


@pytest.mark.parametrize(
    "path", ["../secret.txt", "many/../../secret.txt", "/etc", "/etc/passwd", "/"]
)
def test_paths_outside_the_roots_are_refused(api: httpx.Client, path: str) -> None:
    response = api.post("/api/ingest", json={"path": path})
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "ForbiddenRequestError"


def test_uploads_over_the_limits_get_413(api: httpx.Client) -> None:
    big = b"x" * (1024 * 1024 + 1)
    one_big = api.post("/api/ingest", files=[("files", ("big.txt", big))])
    assert one_big.status_code == 413 and "RAG_MAX_FILE_MB" in one_big.json()["error"]["message"]
    too_many = api.post(
        "/api/ingest", files=[("files", (f"f{i}.txt", b"small text")) for i in range(4)]
    )
    assert too_many.status_code == 413
    assert "RAG_SERVE_MAX_FILES" in too_many.json()["error"]["message"]
    body = api.post("/api/ingest", files=[("files", (f"m{i}.txt", big[:-2])) for i in range(3)])
    assert body.status_code == 413
    assert "RAG_SERVE_MAX_UPLOAD_MB" in body.json()["error"]["message"]
    assert body.json()["error"]["type"] == "TooLargeError"


def test_a_foreign_host_or_origin_is_refused(api: httpx.Client, server: str) -> None:
    rebound = api.get("/api/status", headers={"Host": "attacker.example:80"})
    assert rebound.status_code == 403
    foreign = api.post(
        "/api/ask", json={"question": "x"}, headers={"Origin": "https://attacker.example"}
    )
    assert foreign.status_code == 403
    assert foreign.json()["error"]["type"] == "ForbiddenRequestError"
    own = api.post("/api/search", json={"question": "proxy"}, headers={"Origin": server})
    assert own.status_code == 200
    assert "access-control-allow-origin" not in own.headers


def test_a_non_loopback_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    result = run_rag(["serve", "--host", "0.0.0.0", "--port", "9"], rag_env(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0 without a token: set RAG_SERVE_TOKEN, "
        "or bind 127.0.0.1 (the default)"
    ]


@pytest.fixture(scope="module")
def writing_server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SmolLM2 writes its answers; a token is needed; no answer may wait for another."""
    work = tmp_path_factory.mktemp("writing")
    env = rag_env(
        sample_index,
        RAG_SERVE_TOKEN=TOKEN,
        RAG_ANSWER_MODE="generate",
        RAG_SERVE_QUEUE="0",
        RAG_LLM_MAX_TOKENS="96",
        XDG_DATA_HOME=str(work / "data"),
    )
    with rag_server(env, work / "server.log", token=TOKEN) as base:
        yield base


def test_a_wrong_or_missing_token_gets_401_and_the_page_needs_none(writing_server: str) -> None:
    missing = httpx.get(f"{writing_server}/api/status")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["type"] == "TokenError"
    wrong = httpx.get(f"{writing_server}/api/status", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    good = httpx.get(f"{writing_server}/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200
    assert httpx.get(f"{writing_server}/").status_code == 200


def test_a_second_answer_while_one_is_written_gets_503_and_searches_go_on(
    writing_server: str,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    question = {"question": "How do I import a GGUF model into Ollama?", "force": True}
    streamed = StreamedAnswer(writing_server, question, headers)
    streamed.start()
    try:
        assert streamed.first_event.wait(120), "no token streamed"
        with httpx.Client(base_url=writing_server, headers=headers, timeout=60) as client:
            refused = client.post("/api/ask", json={"question": "What is Clash?"})
            searched = client.post("/api/search", json={"question": "Clash proxy"})
    finally:
        streamed.join(180)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "AnswerQueueFullError"
    assert searched.status_code == 200
    assert streamed.events[-1] == "answer"
