// ragkit's web page: ask with streamed answers, open citations, upload files.
// Everything from a document or a model is put on the page as text nodes (textContent),
// never as HTML: the small Markdown subset below builds DOM elements around plain text.
"use strict";

const STORE = "ragkit.conversation";
const TOKEN = "ragkit.token";
const MAX_TURNS = 30;
const $ = (id) => document.getElementById(id);

let turns = load();

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "[]");
    return Array.isArray(saved) ? saved : [];
  } catch (error) {
    return [];
  }
}

function save() {
  turns = turns.slice(-MAX_TURNS);
  localStorage.setItem(STORE, JSON.stringify(turns));
}

// --- requests, with the token asked once when the server needs one -------------------

function authHeaders() {
  const token = localStorage.getItem(TOKEN);
  return token ? { Authorization: "Bearer " + token } : {};
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    const form = $("token-form");
    form.onsubmit = () => {
      localStorage.setItem(TOKEN, $("token").value.trim());
      resolve();
    };
    dialog.showModal();
    $("token").focus();
  });
}

async function api(path, options = {}, retried = false) {
  const headers = { ...(options.headers || {}), ...authHeaders() };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    await askToken();
    return api(path, options, true);
  }
  return response;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (error) {
    return response.status + " " + response.statusText;
  }
}

// --- the Markdown subset: paragraphs, lists, code blocks, `code`, **bold**, [n] -------

function inline(parent, text, onCite) {
  const pattern = /(`[^`\n]+`|\*\*[^*\n]+\*\*|\[\d{1,2}\])/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parent.append(text.slice(last, match.index));
    const token = match[0];
    if (token.startsWith("`")) {
      const code = document.createElement("code");
      code.textContent = token.slice(1, -1);
      parent.append(code);
    } else if (token.startsWith("**")) {
      const strong = document.createElement("strong");
      inline(strong, token.slice(2, -2), onCite);
      parent.append(strong);
    } else {
      const number = Number(token.slice(1, -1));
      parent.append(onCite ? onCite(number) : token);
    }
    last = match.index + token.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

function renderMarkdown(text, onCite) {
  const fragment = document.createDocumentFragment();
  const pieces = text.split(/```[^\n]*\n?/);
  pieces.forEach((piece, index) => {
    if (index % 2 === 1) {
      const pre = document.createElement("pre");
      pre.textContent = piece.replace(/\n$/, "");
      fragment.append(pre);
      return;
    }
    for (const block of piece.split(/\n{2,}/)) {
      if (!block.trim()) continue;
      const lines = block.split("\n");
      if (lines.every((line) => /^\s*[-*] /.test(line))) {
        const list = document.createElement("ul");
        for (const line of lines) {
          const item = document.createElement("li");
          inline(item, line.replace(/^\s*[-*] /, ""), onCite);
          list.append(item);
        }
        fragment.append(list);
      } else {
        const paragraph = document.createElement("p");
        lines.forEach((line, i) => {
          if (i) paragraph.append(document.createElement("br"));
          inline(paragraph, line, onCite);
        });
        fragment.append(paragraph);
      }
    }
  });
  return fragment;
}

// --- the conversation -----------------------------------------------------------------

function where(source) {
  return source.page === null || source.page === undefined
    ? source.source
    : source.source + ", page " + source.page;
}

function citeButton(turn, number) {
  const answer = turn.answer;
  const source = answer && answer.sources[number - 1];
  if (!source) return "[" + number + "]";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cite";
  button.textContent = "[" + number + "]";
  button.title = where(source);
  button.setAttribute("aria-label", "Show source " + number + ": " + where(source));
  button.addEventListener("click", () => showPassage(turn, number, button));
  return button;
}

function renderTurn(turn) {
  const article = document.createElement("article");
  article.className = "turn";
  const question = document.createElement("p");
  question.className = "question";
  question.textContent = turn.question;
  const body = document.createElement("div");
  body.className = "answer";
  article.append(question, body);
  fillTurn(article, turn);
  return article;
}

function fillTurn(article, turn) {
  const body = article.querySelector(".answer");
  body.replaceChildren();
  for (const old of article.querySelectorAll(".meta, .sources")) old.remove();
  if (turn.error) {
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = turn.error;
    body.append(error);
    return;
  }
  const onCite = turn.answer ? (n) => citeButton(turn, n) : null;
  body.append(renderMarkdown(turn.text || (turn.answer ? "" : "…"), onCite));
  const answer = turn.answer;
  if (!answer) return;
  if (!turn.text && answer.answer_kind === "not_covered") body.append("No passage covers this.");
  const list = document.createElement("ul");
  list.className = "sources";
  list.setAttribute("aria-label", "Sources");
  answer.sources.forEach((source, index) => {
    const item = document.createElement("li");
    const button = citeButton(turn, index + 1);
    button.textContent = "[" + (index + 1) + "] " + where(source);
    item.append(button);
    list.append(item);
  });
  const meta = document.createElement("p");
  meta.className = "meta";
  const kinds = { quoted: "Quoted from your documents", generated: "Written by " + answer.llm };
  meta.textContent = kinds[answer.answer_kind] || "";
  if (answer.answer_kind === "generated" && answer.support.length) {
    const unsupported = answer.support.filter((s) => !s.supported).length;
    meta.textContent += unsupported
      ? " · " + unsupported + " sentence(s) not found in the sources"
      : " · every sentence found in the sources";
  }
  article.append(list, meta);
}

function renderAll() {
  const section = $("conversation");
  section.replaceChildren(...turns.map(renderTurn));
}

// --- a citation's passage, with the evidence sentences marked -------------------------

function evidenceRanges(answer, number, source, text) {
  const items = [...answer.evidence, ...answer.cited_quotes];
  if (answer.quoted_from) items.push(answer.quoted_from);
  const offset = source.start_index || 0;
  const ranges = [];
  for (const item of items) {
    if (item.source_number !== number) continue;
    let start = item.start - offset;
    if (text.slice(start, start + item.text.length) !== item.text) start = text.indexOf(item.text);
    if (start >= 0) ranges.push([start, start + item.text.length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  return ranges.filter((range, i) => i === 0 || range[0] >= ranges[i - 1][1]);
}

async function showPassage(turn, number, opener) {
  const source = turn.answer.sources[number - 1];
  fillPassage(turn, number, source, source.text);
  const aside = $("passage");
  aside.hidden = false;
  aside.opener = opener;
  $("close-passage").focus();
  if (source.id) {
    // The passage as indexed now (the answer may be older than the last ingest).
    const response = await api("/api/chunks/" + encodeURIComponent(source.id));
    if (response.ok) fillPassage(turn, number, source, (await response.json()).text);
  }
}

function fillPassage(turn, number, source, text) {
  const pre = $("passage-text");
  pre.replaceChildren();
  let last = 0;
  for (const [start, end] of evidenceRanges(turn.answer, number, source, text)) {
    pre.append(text.slice(last, start));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(start, end);
    pre.append(mark);
    last = end;
  }
  pre.append(text.slice(last));
  $("passage-title").textContent = "[" + number + "] " + where(source);
}

function closePassage() {
  const aside = $("passage");
  if (aside.hidden) return;
  aside.hidden = true;
  if (aside.opener) aside.opener.focus();
}

// --- asking, with the answer streamed as server-sent events ---------------------------

function history() {
  return turns
    .filter((turn) => turn.answer && !turn.error)
    .slice(-3)
    .flatMap((turn) => [
      { role: "user", content: turn.question },
      { role: "assistant", content: turn.text || turn.answer.answer || "" },
    ]);
}

async function ask(question) {
  const turn = { question, text: "", answer: null, error: "" };
  const previous = history();
  turns.push(turn);
  const article = renderTurn(turn);
  $("conversation").append(article);
  article.scrollIntoView({ block: "end" });
  $("send").disabled = true;
  try {
    const response = await api("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, history: previous }),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        handleEvent(turn, buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
      fillTurn(article, turn);
    }
    if (!turn.answer && !turn.error) turn.error = "the answer stopped before it was complete";
  } catch (error) {
    turn.error = error.message;
  }
  fillTurn(article, turn);
  save();
  $("send").disabled = false;
}

function handleEvent(turn, block) {
  let event = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  const payload = JSON.parse(data || "{}");
  if (event === "token") turn.text += payload.text;
  else if (event === "answer") {
    turn.answer = payload;
    if (!turn.text && payload.answer) turn.text = payload.answer;
  } else if (event === "error") turn.error = payload.error.message;
}

// --- the index status and uploads -----------------------------------------------------

async function refreshStatus() {
  const response = await api("/api/status");
  if (response.ok) {
    const status = await response.json();
    $("status").textContent =
      status.files + " files, " + status.chunks + " chunks · " + status.embedding;
  } else {
    $("status").textContent = response.status === 404
      ? "No index yet: add documents below."
      : await errorText(response);
  }
}

function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const progress = $("progress");
  const status = $("upload-status");
  progress.hidden = false;
  progress.value = 0;
  status.textContent = "Uploading " + files.length + " file(s)…";
  const request = new XMLHttpRequest();
  request.open("POST", "/api/ingest");
  for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) progress.value = (40 * event.loaded) / event.total;
  };
  request.onload = async () => {
    let body = {};
    try {
      body = JSON.parse(request.responseText);
    } catch (error) {
      body = { error: { message: request.statusText } };
    }
    if (request.status === 401) {
      await askToken();
      upload(files);
    } else if (request.status !== 202) {
      status.textContent = "Not added: " + body.error.message;
      progress.hidden = true;
    } else {
      follow(body.id);
    }
  };
  request.onerror = () => {
    status.textContent = "The upload failed: the server did not answer.";
  };
  request.send(form);
}

function shareOf(done, total) {
  return total ? Math.min(1, done / total) : 0;
}

// The bar: 40% the upload, 30% the files read, 30% the chunks embedded.
async function follow(jobId) {
  const progress = $("progress");
  const status = $("upload-status");
  for (;;) {
    const response = await api("/api/jobs/" + encodeURIComponent(jobId));
    const job = await response.json();
    if (!response.ok) {
      status.textContent = job.error.message;
      return;
    }
    progress.value = 40 + 30 * shareOf(job.files_done, job.files_total)
      + 30 * shareOf(job.chunks_done, job.chunks_total);
    if (job.state === "done") {
      progress.value = 100;
      status.textContent = "Added. " + job.summary;
      refreshStatus();
      return;
    }
    if (job.state === "failed") {
      status.textContent = "Not added: " + job.summary;
      return;
    }
    status.textContent = job.chunks_total
      ? "Embedding " + job.chunks_done + " of " + job.chunks_total + " chunks…"
      : "Reading " + job.files_done + " of " + (job.files_total || "?") + " file(s)…";
    if (job.skipped.length) status.textContent += " " + job.skipped.length + " skipped.";
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

// --- wiring ---------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  renderAll();
  refreshStatus();
  const question = $("question");
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text || $("send").disabled) return;
    question.value = "";
    ask(text);
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("clear").addEventListener("click", () => {
    turns = [];
    save();
    renderAll();
    question.focus();
  });
  $("close-passage").addEventListener("click", closePassage);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePassage();
  });
  const files = $("files");
  files.addEventListener("change", () => upload([...files.files]));
  const drop = $("drop");
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      files.click();
    }
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
  question.focus();
});
