// The browser console: the console language in an xterm.js terminal, and a
// live statistics panel, over the WebSocket console at /ws (see
// src/console/transport/ws.ts for the messages). The token is asked for once
// and kept in sessionStorage (gone when the tab closes); it travels in the
// first message, never in the URL. Everything shown is set with textContent:
// nothing from the server is ever parsed as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "weir.token";
  const PROMPT = "weir> ";
  const $ = (id) => document.getElementById(id);

  const loginForm = $("login");
  const tokenInput = $("token");
  const loginError = $("login-error");
  const statusEl = $("status");
  const forgetBtn = $("forget");
  const app = $("app");

  let ws = null;
  let authed = false;
  let commands = [];
  let term = null;

  // ---- status and login -------------------------------------------------
  function setStatus(text, cls) {
    statusEl.textContent = text;
    statusEl.className = "status" + (cls ? " " + cls : "");
  }

  function showLogin(message) {
    loginError.textContent = message || "";
    loginForm.hidden = false;
    tokenInput.value = "";
    tokenInput.focus();
  }

  loginForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    // An empty box reconnects with the token kept for this tab, if any.
    const token = tokenInput.value.trim() || sessionStorage.getItem(TOKEN_KEY);
    if (token) connect(token);
    else loginError.textContent = "enter the token";
  });

  forgetBtn.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    if (ws) ws.close(1000, "bye");
    app.hidden = true;
    forgetBtn.hidden = true;
    showLogin("");
  });

  // ---- the connection ---------------------------------------------------
  function connect(token) {
    if (ws) ws.close(1000, "reconnect");
    authed = false;
    setStatus("connecting…");
    loginError.textContent = "";
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    const sock = new WebSocket(url);
    ws = sock;
    sock.addEventListener("open", () => sock.send(JSON.stringify({ type: "auth", token: token })));
    sock.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "auth" && msg.ok) onAuthenticated(sock, token, msg);
      else if (msg.type === "reply") onReply(msg);
      else if (msg.type === "stats") renderStats(msg);
      else if (msg.type === "error" && term) term.write("\r\n" + crlf(String(msg.text)) + "\r\n");
    });
    sock.addEventListener("close", (ev) => {
      if (ws !== sock) return;
      ws = null;
      setStatus("disconnected", "error");
      if (!authed) {
        const refused = ev.reason === "invalid token" || ev.reason === "too many failed attempts";
        if (refused) sessionStorage.removeItem(TOKEN_KEY);
        showLogin(ev.reason ? "refused: " + ev.reason
          : "could not connect (server unreachable, or too many failed attempts from this address)");
        return;
      }
      authed = false;
      busy = false;
      queue.length = 0;
      if (term) term.write("\r\n[session closed" + (ev.reason ? ": " + ev.reason : "") + "]\r\n");
      forgetBtn.hidden = true;
      showLogin(ev.reason === "exit" ? "session ended" : "connection lost");
    });
  }

  function onAuthenticated(sock, token, msg) {
    if (authed) return;
    authed = true;
    sessionStorage.setItem(TOKEN_KEY, token);
    commands = Array.isArray(msg.commands) ? msg.commands.filter((c) => typeof c === "string") : [];
    loginForm.hidden = true;
    app.hidden = false;
    forgetBtn.hidden = false;
    setStatus("connected", "connected");
    sock.send(JSON.stringify({ type: "subscribe", stats: true }));
    startTerminal();
  }

  // ---- the terminal and its line editor ---------------------------------
  let line = "";
  const history = [];
  let hpos = 0;
  let busy = false;
  const queue = [];

  function crlf(s) { return s.replace(/\r?\n/g, "\r\n"); }

  function startTerminal() {
    if (typeof Terminal !== "function") {
      $("terminal").textContent = "The terminal (xterm.js) is not installed on this appliance.";
      return;
    }
    if (!term) {
      term = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000, fontSize: 14,
        fontFamily: "ui-monospace, Menlo, Consolas, monospace" });
      term.open($("terminal"));
      fit();
      window.addEventListener("resize", fit);
      term.onData(onData);
    }
    term.write("\r\nConnected. Type 'help' for commands, 'exit' to end the session.\r\n");
    line = "";
    term.write(PROMPT);
    term.focus();
  }

  // Sizes the terminal to its box from the renderer's cell size (no fit addon needed).
  function fit() {
    const core = term && term._core;
    const dims = core && core._renderService && core._renderService.dimensions;
    const cell = dims && dims.css && dims.css.cell;
    const box = $("terminal");
    if (!cell || !cell.width || !cell.height) return;
    const cols = Math.max(20, Math.floor(box.clientWidth / cell.width) - 1);
    const rows = Math.max(5, Math.floor(box.clientHeight / cell.height));
    if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
  }

  function redraw() { term.write("\r\x1b[K" + PROMPT + line); }

  function onData(data) {
    if (!authed) return;
    for (let i = 0; i < data.length; i++) {
      const ch = data[i];
      if (ch === "\x1b") {
        const seq = data.slice(i, i + 3);
        if (seq === "\x1b[A") historyMove(-1);
        else if (seq === "\x1b[B") historyMove(1);
        const m = /^\x1b\[[0-9;]*[A-Za-z~]/.exec(data.slice(i));
        i += m ? m[0].length - 1 : 0;
      } else if (ch === "\r" || ch === "\n") {
        if (ch === "\n" && i > 0 && data[i - 1] === "\r") continue;
        submit();
      } else if (ch === "\x7f" || ch === "\b") {
        if (line.length) { line = line.slice(0, -1); term.write("\b \b"); }
      } else if (ch === "\x03") {
        term.write("^C\r\n" + PROMPT); line = "";
      } else if (ch === "\x15") {
        line = ""; redraw();
      } else if (ch === "\x0c") {
        term.clear(); redraw();
      } else if (ch === "\t") {
        complete();
      } else if (ch >= " ") {
        line += ch; term.write(ch);
      }
    }
  }

  function historyMove(d) {
    if (!history.length) return;
    hpos = Math.max(0, Math.min(history.length, hpos + d));
    line = hpos < history.length ? history[hpos] : "";
    redraw();
  }

  function complete() {
    const hits = commands.filter((c) => c.startsWith(line));
    if (hits.length === 1) {
      term.write(hits[0].slice(line.length) + " ");
      line = hits[0] + " ";
    } else if (hits.length > 1) {
      let p = hits[0];
      for (const h of hits) while (!h.startsWith(p)) p = p.slice(0, -1);
      if (p.length > line.length) { term.write(p.slice(line.length)); line = p; }
      else { term.write("\r\n" + hits.join("  ") + "\r\n"); redraw(); }
    }
  }

  function submit() {
    const text = line.trim();
    term.write("\r\n");
    line = "";
    if (text) {
      if (history[history.length - 1] !== text) history.push(text);
      if (history.length > 200) history.shift();
    }
    hpos = history.length;
    if (!text) { if (!busy) term.write(PROMPT); return; }
    queue.push(text);
    pump();
  }

  let nextId = 1;
  function pump() {
    if (busy || !queue.length || !ws || !authed) return;
    const text = queue.shift();
    busy = true;
    ws.send(JSON.stringify({ type: "line", line: text, id: nextId++ }));
  }

  function onReply(msg) {
    if (!term) return;
    if (msg.text) term.write(crlf(String(msg.text)) + "\r\n");
    busy = false;
    if (queue.length) pump();
    else if (ws && authed) term.write(PROMPT + line);
  }

  // ---- the statistics panel ----------------------------------------------
  const COLUMNS = [
    ["address", "Real server"], ["forward", "Fwd"], ["weight", "Weight"], ["health", "Health"],
    ["activeConns", "ActConn"], ["inactiveConns", "InActConn"], ["conns", "Conns"], ["cps", "CPS"],
    ["inPps", "InPPS"], ["outPps", "OutPPS"], ["inBps", "InBPS"], ["outBps", "OutBPS"],
  ];

  function fmt(v) {
    if (v === undefined || v === null) return "-";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
    return String(v);
  }

  function cell(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function renderStats(msg) {
    const box = $("stats");
    const services = Array.isArray(msg.services) ? msg.services : [];
    $("stats-time").textContent = "updated " + new Date(msg.time || Date.now()).toLocaleTimeString();
    const frag = document.createDocumentFragment();
    if (!services.length) frag.appendChild(cell("p", "no virtual services", "empty"));
    for (const s of services) {
      const table = document.createElement("table");
      table.className = "service";
      const cap = [s.service, s.scheduler].filter(Boolean).join("  ");
      table.appendChild(cell("caption", cap + "  conns " + fmt(s.conns) + "  cps " + fmt(s.cps) +
        "  in " + fmt(s.inPps) + " pps / " + fmt(s.inBps) + " B/s  out " + fmt(s.outPps) + " pps / " + fmt(s.outBps) + " B/s"));
      const head = document.createElement("tr");
      for (const [, title] of COLUMNS) head.appendChild(cell("th", title));
      const thead = document.createElement("thead");
      thead.appendChild(head);
      table.appendChild(thead);
      const body = document.createElement("tbody");
      for (const r of Array.isArray(s.reals) ? s.reals : []) {
        const tr = document.createElement("tr");
        for (const [key] of COLUMNS) {
          const v = r[key];
          tr.appendChild(cell("td", fmt(v), key === "health" && v ? "health-" + String(v).replace(/[^a-z]/gi, "") : ""));
        }
        body.appendChild(tr);
      }
      table.appendChild(body);
      frag.appendChild(table);
    }
    box.replaceChildren(frag);
  }

  // ---- start ------------------------------------------------------------
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) { loginForm.hidden = true; connect(saved); } else showLogin("");
})();
