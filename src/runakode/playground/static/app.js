// The playground page: pick a language, write a program, run it over the native WebSocket
// (/api/ws) with its output streamed live, type into its stdin while it runs, stop it.
// The last program is kept in this browser; Share puts the program in the URL fragment, so
// nothing is stored on the server.
"use strict";

const STORAGE_PROGRAM = "runakode.playground.program";
const STORAGE_KEY = "runakode.playground.apiKey";
const SHARE_PREFIX = "#program=";
// A run whose Stop got no answer is cut off (the server then ends its sandbox at once).
const STOP_GRACE_MS = 2000;

const $ = (id) => document.getElementById(id);
const ui = {
  language: $("language"),
  example: $("example"),
  share: $("share"),
  key: $("key"),
  keyForm: $("key-form"),
  keyInput: $("key-input"),
  run: $("run"),
  stop: $("stop"),
  editor: $("editor"),
  args: $("args"),
  stdin: $("stdin"),
  output: $("output"),
  status: $("status"),
  sendForm: $("send-form"),
  send: $("send"),
  eof: $("eof"),
  notice: $("notice"),
};

let helloWorld = {};
// The language chosen before a change: its untouched example gives way to the new one's.
let languageBefore = "";
let editor = null;
let socket = null;
let stopTimer = null;

// ---- the program: what is kept, shared and sent -------------------------------------------

function currentProgram() {
  return {
    language: ui.language.value,
    code: editor.getText(),
    stdin: ui.stdin.value,
    args: ui.args.value,
  };
}

function saveProgram() {
  if (!editor || ui.language.disabled) return;
  try {
    localStorage.setItem(STORAGE_PROGRAM, JSON.stringify(currentProgram()));
  } catch (_) {
    // Storage full or refused: the page works without it.
  }
}

function storedProgram() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_PROGRAM) || "null");
  } catch (_) {
    return null;
  }
}

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(encoded) {
  const binary = atob(encoded.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function sharedProgram() {
  if (!location.hash.startsWith(SHARE_PREFIX)) return null;
  try {
    const program = JSON.parse(fromBase64Url(location.hash.slice(SHARE_PREFIX.length)));
    return typeof program === "object" && program ? program : null;
  } catch (_) {
    notice("The link's program could not be read.");
    return null;
  }
}

function shareLink() {
  const link = `${location.origin}${location.pathname}${SHARE_PREFIX}${toBase64Url(JSON.stringify(currentProgram()))}`;
  history.replaceState(null, "", link);
  return link;
}

// Arguments as a shell would split them for the simple cases: spaces, "double" and 'single'
// quotes, and backslash escapes.
function splitArgs(text) {
  const args = [];
  let current = null;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current = current ?? "";
    } else if (ch === "\\" && i + 1 < text.length) {
      current = (current ?? "") + text[++i];
    } else if (/\s/.test(ch)) {
      if (current !== null) args.push(current);
      current = null;
    } else {
      current = (current ?? "") + ch;
    }
  }
  if (current !== null) args.push(current);
  return args;
}

// ---- the API key ---------------------------------------------------------------------------

function apiKey() {
  try {
    return localStorage.getItem(STORAGE_KEY) || "";
  } catch (_) {
    return "";
  }
}

function askForKey(message) {
  ui.keyForm.hidden = false;
  ui.keyInput.value = apiKey();
  ui.keyInput.focus();
  if (message) notice(message);
}

ui.key.addEventListener("click", () => {
  if (ui.keyForm.hidden) askForKey();
  else ui.keyForm.hidden = true;
});

ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  try {
    localStorage.setItem(STORAGE_KEY, ui.keyInput.value.trim());
  } catch (_) {
    notice("This browser refused to keep the key.");
  }
  ui.keyForm.hidden = true;
  notice("");
  loadLanguages();
});

// ---- languages -----------------------------------------------------------------------------

async function loadLanguages() {
  const key = apiKey();
  const headers = key ? { "X-Auth-Token": key } : {};
  let response;
  try {
    response = await fetch("/api/languages", { headers });
  } catch (_) {
    notice("The server did not answer.");
    return;
  }
  if (response.status === 401) {
    askForKey(key ? "That API key was refused." : "This server asks for an API key.");
    return;
  }
  if (!response.ok) {
    notice(`Could not list the languages (${response.status}).`);
    return;
  }
  const languages = await response.json();
  const chosen = ui.language.disabled ? "" : ui.language.value;
  ui.language.replaceChildren(
    ...languages.map((language) => {
      const option = document.createElement("option");
      option.value = language.name;
      option.textContent = language.version ? `${language.name} (${language.version})` : language.name;
      if (language.available === false) {
        option.disabled = true;
        option.textContent += " (unavailable)";
      }
      return option;
    }),
  );
  ui.language.disabled = false;
  startProgram(chosen);
}

function hasLanguage(name) {
  return [...ui.language.options].some((option) => option.value === name && !option.disabled);
}

// The program the page opens with: a shared link's, else the last one kept, else a hello world.
function startProgram(previouslyChosen) {
  const program = sharedProgram() || storedProgram();
  if (program && hasLanguage(program.language) && !previouslyChosen) {
    ui.language.value = program.language;
    editor.setText(String(program.code ?? ""));
    ui.stdin.value = String(program.stdin ?? "");
    ui.args.value = String(program.args ?? "");
  } else {
    const fallback = hasLanguage(previouslyChosen) ? previouslyChosen : hasLanguage("python") ? "python" : firstAvailable();
    ui.language.value = fallback;
    if (!editor.getText().trim()) editor.setText(helloWorld[fallback] || "");
  }
  languageBefore = ui.language.value;
  editor.setLanguage(ui.language.value);
  saveProgram();
}

function firstAvailable() {
  const option = [...ui.language.options].find((o) => !o.disabled);
  return option ? option.value : "";
}

ui.language.addEventListener("change", () => {
  const code = editor.getText();
  // A program still the previous language's example (or nothing) becomes the new one's.
  if (!code.trim() || code === helloWorld[languageBefore]) {
    editor.setText(helloWorld[ui.language.value] || "");
  }
  languageBefore = ui.language.value;
  editor.setLanguage(ui.language.value);
  saveProgram();
});

ui.example.addEventListener("click", () => {
  editor.setText(helloWorld[ui.language.value] || "");
  editor.focus();
});

ui.share.addEventListener("click", async () => {
  const link = shareLink();
  try {
    await navigator.clipboard.writeText(link);
    notice("Link copied: it carries the program itself.", true);
  } catch (_) {
    notice("The link is in the address bar: it carries the program itself.", true);
  }
});

// ---- output --------------------------------------------------------------------------------

function append(text, kind) {
  const last = ui.output.lastChild;
  const follow = ui.output.scrollTop + ui.output.clientHeight >= ui.output.scrollHeight - 4;
  if (last && last.className === kind) last.textContent += text;
  else {
    const span = document.createElement("span");
    span.className = kind;
    span.textContent = text;
    ui.output.append(span);
  }
  if (follow) ui.output.scrollTop = ui.output.scrollHeight;
}

function setStatus(text, tone) {
  ui.status.textContent = text;
  ui.status.className = `status ${tone || ""}`;
}

function notice(text, mild) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
  ui.notice.style.color = mild ? "var(--muted)" : "";
}

function describeResult(result) {
  const parts = [`status: ${result.status}`, `exit code ${result.exit_code}`];
  if (result.exec_time_ms != null) parts.push(`${result.exec_time_ms} ms`);
  if (result.cpu_time_ms != null) parts.push(`cpu ${result.cpu_time_ms} ms`);
  if (result.memory_kb != null) parts.push(`${(result.memory_kb / 1024).toFixed(1)} MiB`);
  return parts.join(" · ");
}

// ---- a run ---------------------------------------------------------------------------------

function setRunning(running) {
  ui.run.disabled = running;
  ui.stop.disabled = !running;
  ui.send.disabled = !running;
  ui.eof.disabled = !running;
  ui.language.disabled = running;
}

function run() {
  if (socket || ui.language.disabled) return;
  const program = currentProgram();
  saveProgram();
  notice("");
  ui.output.replaceChildren();
  setStatus("connecting…");
  setRunning(true);
  const key = apiKey();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = key ? `?X-Auth-Token=${encodeURIComponent(key)}` : "";
  const ws = new WebSocket(`${scheme}://${location.host}/api/ws${query}`);
  socket = ws;
  let finished = false;
  let stage = "run";
  ws.addEventListener("open", () => {
    ws.send(
      JSON.stringify({
        type: "run",
        language: program.language,
        source_code: program.code,
        stdin: program.stdin,
        args: splitArgs(program.args),
      }),
    );
    setStatus("queued…");
  });
  ws.addEventListener("message", (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    switch (frame.type) {
      case "started":
        setStatus(frame.version ? `running ${frame.version}…` : "running…");
        break;
      case "stage":
        stage = frame.stage;
        if (stage === "compile") setStatus("compiling…");
        else if (stage === "run") setStatus("running…");
        break;
      case "output":
        append(frame.data, frame.stage === "compile" ? "compile" : frame.stream);
        break;
      case "exit":
        if (frame.stage === "compile" && frame.status !== "ok") {
          append(`\n[compile: ${frame.status}${frame.message ? `: ${frame.message}` : ""}]\n`, "note");
        } else if (frame.message) {
          append(`\n[${frame.message}]\n`, "note");
        }
        break;
      case "finished":
        finished = true;
        setStatus(describeResult(frame.result), frame.result.status === "ok" ? "ok" : "bad");
        break;
      case "error":
        notice(frame.message || "the server refused the run");
        break;
    }
  });
  ws.addEventListener("close", (event) => {
    clearTimeout(stopTimer);
    if (socket === ws) socket = null;
    setRunning(false);
    if (!finished) {
      if (event.code === 1006 && !ui.notice.textContent) {
        notice("The connection was refused or lost (a wrong API key, or too many runs at once?).");
      }
      setStatus("stopped", "bad");
    }
  });
}

function stop() {
  if (!socket) return;
  const ws = socket;
  ws.send(JSON.stringify({ type: "signal", signal: "SIGKILL" }));
  setStatus("stopping…");
  clearTimeout(stopTimer);
  stopTimer = setTimeout(() => ws.close(), STOP_GRACE_MS);
}

ui.run.addEventListener("click", run);
ui.stop.addEventListener("click", stop);

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!socket) return;
  const line = `${ui.send.value}\n`;
  socket.send(JSON.stringify({ type: "stdin", data: line }));
  append(line, "stdin");
  ui.send.value = "";
});

ui.eof.addEventListener("click", () => {
  if (socket) socket.send(JSON.stringify({ type: "close_stdin" }));
  ui.eof.disabled = true;
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    run();
  }
});

for (const field of [ui.stdin, ui.args]) field.addEventListener("input", saveProgram);

// ---- start ---------------------------------------------------------------------------------

// Without the editor bundle (make setup not run yet), a plain text area still works.
function plainEditor(parent) {
  const area = document.createElement("textarea");
  area.className = "fallback";
  area.setAttribute("aria-label", "Code");
  area.spellcheck = false;
  area.addEventListener("input", saveProgram);
  parent.append(area);
  return {
    getText: () => area.value,
    setText: (text) => {
      area.value = text;
    },
    setLanguage: () => {},
    focus: () => area.focus(),
  };
}

async function start() {
  editor = window.RunakodeEditor
    ? window.RunakodeEditor.createEditor({
        parent: ui.editor,
        doc: "",
        language: "",
        label: "Code",
        onChange: saveProgram,
        onRun: run,
      })
    : plainEditor(ui.editor);
  try {
    const response = await fetch("/playground/hello.json");
    helloWorld = await response.json();
  } catch (_) {
    helloWorld = {};
  }
  await loadLanguages();
}

start();
