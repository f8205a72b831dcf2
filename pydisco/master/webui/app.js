/* The Disco master's status page.
 *
 * It reads only the master's HTTP API (the endpoints Disco's client uses), so it
 * works against any master with Disco 0.5.4's API shape. Every value from the
 * master is put into the page with textContent or a DOM property, never parsed
 * as HTML. One poll at most per second per tab; none while the tab is hidden.
 */
"use strict";

(() => {
  const POLL_MS = 1000;
  const TOKEN_KEY = "pydisco.master.token";
  const JOBS_PAGE_SIZE = 100;
  const MAX_EVENT_ROWS = 2000;
  const DETAIL_FETCHES = 4;

  // -- DOM helpers ------------------------------------------------------------------------------

  /** An element; `props` are DOM properties (textContent, className, href, ...) or
   * `data`/`attrs` objects; string children become text nodes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null) continue;
        if (key === "data") Object.assign(node.dataset, value);
        else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
        else if (key === "style") Object.assign(node.style, value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node[key] = value;
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function clear(node) {
    node.replaceChildren();
    return node;
  }

  /** A link to `url` when it is http(s) on any host or a path on this master; else text. */
  function link(url, text) {
    const target = dataHref(url);
    if (target === null) return el("span", { className: "url", textContent: text ?? url });
    return el("a", { href: target, textContent: text ?? url, className: "url", rel: "noopener" });
  }

  /** Where a browser can read a Disco URL: disco:// and dir:// are served by this
   * master under the same path (facts §6.3), http(s) as is, anything else nowhere. */
  function dataHref(url) {
    const match = /^([a-z]+):\/\/([^/]*)(\/.*)?$/i.exec(String(url));
    if (!match) return null;
    const scheme = match[1].toLowerCase();
    const path = match[3] || "/";
    if (scheme === "disco" || scheme === "dir") return path.startsWith("/disco/") ? path : null;
    if (scheme === "http" || scheme === "https") {
      try {
        const parsed = new URL(url);
        return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
      } catch (e) {
        return null;
      }
    }
    return null;
  }

  function jobHash(name) {
    return "#/job/" + encodeURIComponent(name);
  }

  function q(name) {
    return "name=" + encodeURIComponent(name);
  }

  // -- time -------------------------------------------------------------------------------------

  /** "YYYY/MM/DD HH:MM:SS" (the master's local time) as seconds on the master's clock face;
   * only differences between such values mean anything. */
  function parseStamp(text) {
    const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(String(text));
    if (!m) return null;
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
  }

  /** Now on the master's clock face (as parseStamp counts), assuming the browser shares the
   * master's time zone; null when that is clearly not so (then the last event stands for now). */
  function faceNow(last) {
    const now = Date.now() / 1000 - new Date().getTimezoneOffset() * 60;
    if (last === null || now < last - 5 || now > last + 86400 * 7) return null;
    return Math.max(now, last);
  }

  /** "H:MM:SS.mmm" (Disco's durations) as seconds. */
  function parseDuration(text) {
    const m = /(\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(String(text));
    return m ? +m[1] * 3600 + +m[2] * 60 + parseFloat(m[3]) : null;
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    seconds = Math.max(0, seconds);
    if (seconds < 10) return seconds.toFixed(1) + " s";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const r = s % 60;
    if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
    if (m) return `${m} min ${String(r).padStart(2, "0")} s`;
    return `${r} s`;
  }

  /** A duration from whole-second stamps: never shown finer than it is known. */
  function roughDuration(seconds) {
    if (seconds === null || !isFinite(seconds)) return "";
    return seconds < 1 ? "< 1 s" : formatDuration(Math.round(seconds)).replace(/\.0 s$/, " s");
  }

  function formatEpoch(secs) {
    const d = new Date(secs * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  // -- the API ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, path) {
      super(message);
      this.status = status;
      this.path = path;
    }
  }

  async function errorText(response) {
    const text = await response.text();
    try {
      const value = JSON.parse(text);
      if (typeof value === "string") return value;
    } catch (e) {
      /* not JSON: the text itself */
    }
    return text.trim() || response.statusText;
  }

  async function request(path, init) {
    let response;
    try {
      response = await fetch(path, { cache: "no-store", ...init });
    } catch (e) {
      throw new ApiError(0, "The master does not answer (" + e.message + ")", path);
    }
    return response;
  }

  /** GET a JSON value; null on 404. */
  async function getJSON(path) {
    const response = await request(path);
    if (response.status === 404) return null;
    if (!response.ok) throw new ApiError(response.status, await errorText(response), path);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** GET or POST something that may need the token: asks for it on the first 401. */
  async function authorised(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers["Authorization"] = "Bearer " + token;
      const init = { method, headers };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await request(path, init);
      if (response.status === 401) {
        const reason = await errorText(response);
        if (token) sessionStorage.removeItem(TOKEN_KEY);
        showTokenState();
        if (attempt === 0 && !token && (await askToken(reason))) continue;
        throw new ApiError(401, (token ? "The token was refused. " : "") + reason, path);
      }
      if (!response.ok) throw new ApiError(response.status, await errorText(response), path);
      const text = await response.text();
      return text ? JSON.parse(text) : null;
    }
  }

  function control(op, body) {
    return authorised("POST", "/disco/ctrl/" + op, body);
  }

  /** The events in a `jobevents` reply, newest first, as [time, host, message].
   * Accepts Disco's shape (each element is the event's own array) and the older
   * one (each element a JSON-encoded line), and the empty body for "none". */
  function parseJobEvents(text) {
    if (!text || !text.trim()) return [];
    const value = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    const events = [];
    for (const item of value) {
      let event = item;
      if (typeof item === "string") {
        try {
          event = JSON.parse(item);
        } catch (e) {
          continue;
        }
      }
      if (Array.isArray(event) && event.length >= 3) events.push([String(event[0]), String(event[1]), String(event[2])]);
    }
    return events;
  }

  async function jobEvents(name, num, filter) {
    let path = `/disco/ctrl/jobevents?${q(name)}&num=${num}`;
    if (filter) path += "&filter=" + encodeURIComponent(filter);
    const response = await request(path);
    if (response.status === 404) return null;
    if (!response.ok) throw new ApiError(response.status, await errorText(response), path);
    return parseJobEvents(await response.text());
  }

  /** Follows a job's `rawevents` file with byte ranges, as Disco's client does; asks
   * for one byte before the end so that a poll at the end is a 1-byte 206. */
  class EventReader {
    constructor(name) {
      this.name = name;
      this.offset = 0;
      this.events = [];
      this.decoder = new TextDecoder();
    }

    /** Reads what is new; returns the new events (possibly none) or null when there is no file. */
    async read() {
      const headers = {};
      const skip = this.offset > 0 ? 1 : 0;
      if (skip) headers["Range"] = `bytes=${this.offset - 1}-`;
      const path = "/disco/ctrl/rawevents?" + q(this.name);
      const response = await request(path, { headers });
      if (response.status === 404) return null;
      if (!response.ok) throw new ApiError(response.status, await errorText(response), path);
      let bytes = new Uint8Array(await response.arrayBuffer());
      // 206: the range asked for; 200: the whole file (a range the server would not serve).
      bytes = response.status === 206 ? bytes.subarray(skip) : bytes.subarray(this.offset);
      const end = bytes.lastIndexOf(10);
      if (end < 0) return [];
      const text = this.decoder.decode(bytes.subarray(0, end + 1));
      this.offset += end + 1;
      const fresh = [];
      for (const line of text.split("\n")) {
        if (!line) continue;
        try {
          const event = JSON.parse(line);
          if (Array.isArray(event) && event.length >= 3) fresh.push([String(event[0]), String(event[1]), String(event[2])]);
        } catch (e) {
          /* a line that is not an event: skipped, as Disco's client stops at it */
        }
      }
      this.events.push(...fresh);
      return fresh;
    }
  }

  // -- the job pack's job dict ------------------------------------------------------------------

  /** The job dict of a job pack (facts §7.1), read with two byte ranges of `parameters`. */
  async function readJobdict(name) {
    const path = "/disco/ctrl/parameters?" + q(name);
    const head = await request(path, { headers: { Range: "bytes=0-127" } });
    if (!head.ok) return null;
    let buffer = await head.arrayBuffer();
    const whole = head.status === 200;
    const view = new DataView(buffer);
    if (view.byteLength < 20 || view.getUint16(0) !== 0xd5c0) return null;
    const start = view.getUint32(4);
    const end = view.getUint32(8);
    if (end <= start || end - start > 16 * 1024 * 1024) return null;
    if (!whole) {
      const body = await request(path, { headers: { Range: `bytes=${start}-${end - 1}` } });
      if (!body.ok) return null;
      buffer = await body.arrayBuffer();
      if (body.status === 200) buffer = buffer.slice(start, end);
    } else {
      buffer = buffer.slice(start, end);
    }
    try {
      return JSON.parse(new TextDecoder().decode(buffer));
    } catch (e) {
      return null;
    }
  }

  // -- flash messages, token, liveness ----------------------------------------------------------

  function flash(message, kind = "error") {
    const box = document.getElementById("flash");
    const item = el("div", { className: "flash " + kind, data: { kind } },
      el("span", { className: "flash-text", textContent: message }),
      el("button", { className: "flash-close", textContent: "\u00d7", title: "Dismiss", onclick: () => item.remove() }));
    box.append(item);
    while (box.children.length > 4) box.firstElementChild.remove();
    if (kind === "info") setTimeout(() => item.remove(), 8000); // errors stay until dismissed
    return item;
  }

  function flashError(error) {
    if (error instanceof ApiError && error.status === 401) flash("Refused (401): " + error.message, "error auth");
    else if (error instanceof ApiError && error.status) flash(`The master answered ${error.status}: ${error.message}`);
    else flash(String(error.message || error));
  }

  function showTokenState() {
    const box = clear(document.getElementById("token-state"));
    if (sessionStorage.getItem(TOKEN_KEY)) {
      box.append("token set for this tab ",
        el("button", { className: "link", id: "forget-token", textContent: "forget", onclick: () => { sessionStorage.removeItem(TOKEN_KEY); showTokenState(); } }));
    }
  }

  /** Asks for the token in a dialog; true when one was given (and stored). */
  function askToken(reason) {
    const dialog = document.getElementById("token-dialog");
    const input = document.getElementById("token-input");
    document.getElementById("token-reason").textContent = reason || "";
    input.value = "";
    return new Promise((resolve) => {
      const done = (value) => {
        form.removeEventListener("submit", onSubmit);
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        if (value) {
          sessionStorage.setItem(TOKEN_KEY, value);
          showTokenState();
        }
        resolve(Boolean(value));
      };
      const form = document.getElementById("token-form");
      const cancel = document.getElementById("token-cancel");
      const onSubmit = (event) => {
        event.preventDefault();
        done(input.value);
      };
      const onCancel = (event) => {
        event.preventDefault();
        done("");
      };
      form.addEventListener("submit", onSubmit);
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
      input.focus();
    });
  }

  function markLive(ok) {
    const live = document.getElementById("live");
    live.className = "live " + (ok ? "ok" : "down");
    live.textContent = ok ? "live " + new Date().toLocaleTimeString() : "master not answering";
  }

  // -- small widgets ----------------------------------------------------------------------------

  function statusBadge(status) {
    return el("span", { className: "badge status-" + String(status).replace(/[^a-z]/g, ""), textContent: status });
  }

  /** A button that asks "Really?" on the first click and acts on the second. */
  function confirmButton(label, action, props = {}) {
    let armed = false;
    const button = el("button", {
      ...props,
      textContent: label,
      onclick: async () => {
        if (!armed) {
          armed = true;
          button.textContent = "Really " + label.toLowerCase() + "?";
          button.classList.add("armed");
          return;
        }
        armed = false;
        button.textContent = label;
        button.classList.remove("armed");
        await action();
      },
    });
    return button;
  }

  function section(title, ...children) {
    return el("section", { className: "card" }, el("h2", { textContent: title }), ...children);
  }

  function definitionList(pairs) {
    return el("dl", { className: "facts" },
      pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [
        el("dt", { textContent: k }),
        el("dd", null, v instanceof Node ? v : String(v)),
      ]));
  }

  // -- the jobs page ----------------------------------------------------------------------------

  class JobsPage {
    constructor(root, params) {
      this.root = root;
      this.jobs = [];
      this.byName = new Map();
      this.listText = null;
      this.details = new Map();
      this.wanted = [];
      this.inflight = new Set();
      this.fetching = 0;
      this.page = 0;
      this.text = params.get("q") || "";
      this.status = params.get("status") || "";
      this.build();
    }

    build() {
      this.filterInput = el("input", {
        type: "search", id: "job-filter", placeholder: "Filter by name or owner", value: this.text,
        oninput: () => this.setText(),
        onchange: () => this.setText(),
      });
      this.statusSelect = el("select", { id: "status-filter", onchange: () => { this.status = this.statusSelect.value; this.page = 0; this.render(); } },
        ["", "active", "ready", "dead"].map((s) => el("option", { value: s, textContent: s || "any status", selected: s === this.status })));
      this.count = el("span", { className: "muted", id: "job-count" });
      this.pager = el("span", { className: "pager" });
      this.tbody = el("tbody", { id: "job-rows" });
      append(this.root, [
        el("div", { className: "toolbar" }, el("h1", { textContent: "Jobs" }), this.filterInput, this.statusSelect, this.count, el("span", { className: "spacer" }), this.pager),
        el("table", { className: "jobs", id: "jobs" },
          el("thead", null, el("tr", null, ["Job", "Status", "Owner", "Started", "Duration"].map((h) => el("th", { textContent: h })))),
          this.tbody),
      ]);
    }

    setText() {
      if (this.text === this.filterInput.value) return;
      this.text = this.filterInput.value;
      this.page = 0;
      this.render();
    }

    interval() {
      // joblist grows with the job count: a long list is fetched less often.
      return Math.max(POLL_MS, Math.min(10000, this.jobs.length / 2));
    }

    async refresh() {
      const response = await request("/disco/ctrl/joblist");
      if (!response.ok) throw new ApiError(response.status, await errorText(response), "/disco/ctrl/joblist");
      const text = await response.text();
      if (text === this.listText) {
        this.renderDurations();
        return;
      }
      this.listText = text;
      const list = JSON.parse(text || "[]");
      this.jobs = list.map(([start, status, name]) => ({ start: Number(start), status: String(status), name: String(name) }));
      // Newest first (a stable sort: the master's order stands within a second).
      this.jobs.sort((a, b) => b.start - a.start);
      this.byName = new Map(this.jobs.map((job) => [job.name, job]));
      for (const job of this.jobs) {
        const known = this.details.get(job.name);
        if (known && known.status !== job.status) known.stale = true;
      }
      this.render();
    }

    filtered() {
      const text = this.text.trim().toLowerCase();
      return this.jobs.filter((job) => {
        if (this.status && job.status !== this.status) return false;
        if (!text) return true;
        if (job.name.toLowerCase().includes(text)) return true;
        const detail = this.details.get(job.name);
        return Boolean(detail && detail.owner && detail.owner.toLowerCase().includes(text));
      });
    }

    render() {
      const jobs = this.filtered();
      const pages = Math.max(1, Math.ceil(jobs.length / JOBS_PAGE_SIZE));
      this.page = Math.min(this.page, pages - 1);
      const first = this.page * JOBS_PAGE_SIZE;
      const shown = jobs.slice(first, first + JOBS_PAGE_SIZE);
      const counts = { "": this.jobs.length };
      for (const job of this.jobs) counts[job.status] = (counts[job.status] || 0) + 1;
      for (const option of this.statusSelect.options) {
        option.textContent = `${option.value || "any status"} (${counts[option.value] || 0})`;
      }
      this.count.textContent = jobs.length === this.jobs.length
        ? `${this.jobs.length} jobs`
        : `${jobs.length} of ${this.jobs.length} jobs`;
      const rows = shown.map((job) => {
        const detail = this.details.get(job.name);
        if (!detail || detail.stale) this.want(job);
        return el("tr", { data: { job: job.name, status: job.status } },
          el("td", null, el("a", { href: jobHash(job.name), textContent: job.name, className: "job-link" })),
          el("td", null, statusBadge(job.status)),
          el("td", { className: "owner", textContent: detail ? detail.owner : "" }),
          el("td", { className: "started", textContent: formatEpoch(job.start) }),
          el("td", { className: "duration", textContent: this.duration(job, detail) }));
      });
      if (!rows.length) rows.push(el("tr", null, el("td", { colSpan: 5, className: "muted empty", textContent: this.jobs.length ? "No job matches." : "No jobs yet." })));
      this.tbody.replaceChildren(...rows);
      clear(this.pager);
      if (pages > 1) {
        append(this.pager, [
          el("button", { textContent: "\u2039 Newer", disabled: this.page === 0, onclick: () => { this.page--; this.render(); } }),
          ` ${first + 1}\u2013${first + shown.length} `,
          el("button", { textContent: "Older \u203a", disabled: this.page >= pages - 1, onclick: () => { this.page++; this.render(); } }),
        ]);
      }
      this.pump();
    }

    renderDurations() {
      for (const row of this.tbody.querySelectorAll("tr[data-status=active]")) {
        const job = this.byName.get(row.dataset.job);
        if (job) row.querySelector(".duration").textContent = this.duration(job, this.details.get(job.name));
      }
    }

    duration(job, detail) {
      if (job.status === "active") return formatDuration(Date.now() / 1000 - job.start);
      if (!detail || detail.duration === null) return "";
      return detail.approx ? roughDuration(detail.duration) : formatDuration(detail.duration);
    }

    want(job) {
      if (this.inflight.has(job.name) || this.wanted.some((j) => j.name === job.name)) return;
      this.wanted.push(job);
    }

    /** Owner and duration need one jobinfo (and, for an ended job, its last event) per job:
     * fetched only for the rows shown, a few at a time, and kept. */
    pump() {
      while (this.fetching < DETAIL_FETCHES && this.wanted.length && !this.closed) {
        const job = this.wanted.shift();
        this.fetching++;
        this.inflight.add(job.name);
        // A failed fetch is not retried until the job's status changes (no request storm).
        this.fetchDetail(job).catch(() => this.details.set(job.name, { owner: "", status: job.status, duration: null, stale: false })).finally(() => {
          this.fetching--;
          this.inflight.delete(job.name);
          if (this.closed) return;
          if (!this.wanted.length && !this.fetching) this.render();
          else this.pump();
        });
      }
    }

    async fetchDetail(job) {
      const info = await getJSON("/disco/ctrl/jobinfo?" + q(job.name));
      const detail = { owner: info ? String(info.owner ?? "") : "", status: job.status, duration: null, stale: false };
      if (info && job.status !== "active") {
        const last = await jobEvents(job.name, 1);
        if (last && last.length) {
          const [time, , message] = last[0];
          const ready = /^READY: Job done in (.*)$/.exec(message);
          const start = parseStamp(info.timestamp);
          const end = parseStamp(time);
          detail.duration = ready ? parseDuration(ready[1]) : start !== null && end !== null ? end - start : null;
          detail.approx = !ready;
        }
      }
      this.details.set(job.name, detail);
    }

    close() {
      this.closed = true;
    }
  }

  // -- the timeline -----------------------------------------------------------------------------

  const TAG = "(.+?:\\d+)";
  const RE_ASSIGNED = new RegExp(`^${TAG} assigned to (.+)$`);
  const RE_RECEIVED = new RegExp(`^SYS: \\[${TAG}\\] Received results from`);
  const RE_RETRY = new RegExp(`^Task ${TAG} failed on "`);
  const RE_FATAL = new RegExp(`^FATAL: \\[${TAG}\\] (.*)$`, "s");
  const RE_TOO_MANY = new RegExp(`^ERROR: \\[${TAG}\\] `);
  const RE_WARNING = new RegExp(`^WARNING: \\[${TAG}\\] (.*)$`, "s");
  const RE_DONE = new RegExp(`^DONE: \\[${TAG}\\] Task finished in (.*)$`);

  /** Events with second-granular stamps, spread evenly within each second in log order
   * (the order is exact even when the clock is coarse). */
  function eventTimes(events) {
    const times = new Array(events.length);
    let i = 0;
    while (i < events.length) {
      const second = parseStamp(events[i][0]);
      let j = i + 1;
      while (j < events.length && events[j][0] === events[i][0]) j++;
      for (let k = i; k < j; k++) times[k] = second === null ? null : second + (k - i) / (j - i);
      i = j;
    }
    return times;
  }

  /** Every task run in the events (facts §9.4), with its node slot: a run takes the lowest
   * slot of its node that is free when it is assigned. */
  function buildRuns(events, jobActive) {
    const times = eventTimes(events);
    const runs = [];
    const open = new Map();
    const attempts = new Map();
    const lanes = new Map(); // host -> [run occupying each slot]
    const stages = [];
    const close = (tag, outcome, i) => {
      const run = open.get(tag);
      if (!run) return;
      run.outcome = outcome;
      run.end = times[i];
      run.closedAt = i;
      open.delete(tag);
    };
    let last = null;
    for (let i = 0; i < events.length; i++) {
      const [, host, message] = events[i];
      if (times[i] !== null) last = times[i];
      let m;
      if (host === "master" && (m = RE_ASSIGNED.exec(message))) {
        const tag = m[1];
        const node = m[2];
        const stage = tag.slice(0, tag.lastIndexOf(":"));
        if (!stages.includes(stage)) stages.push(stage);
        close(tag, "lost", i);
        const attempt = (attempts.get(tag) || 0) + 1;
        attempts.set(tag, attempt);
        const slots = lanes.get(node) || [];
        lanes.set(node, slots);
        let slot = slots.findIndex((r) => r.closedAt !== null && r.closedAt <= i);
        if (slot < 0) slot = slots.length;
        const run = { tag, stage, host: node, slot, attempt, start: times[i], end: null, outcome: "running", closedAt: null, reason: "", took: null };
        slots[slot] = run;
        runs.push(run);
        open.set(tag, run);
      } else if ((m = RE_DONE.exec(message))) {
        // The worker is done and its slot free (the master may reuse it before "Received results").
        const run = open.get(m[1]);
        if (run) run.took = parseDuration(m[2]);
        close(m[1], "done", i);
      } else if ((m = RE_RECEIVED.exec(message))) close(m[1], "done", i);
      else if ((m = RE_RETRY.exec(message))) close(m[1], "failed", i);
      else if ((m = RE_FATAL.exec(message))) {
        const run = open.get(m[1]);
        if (run) run.reason = m[2];
        close(m[1], "fatal", i);
      } else if ((m = RE_TOO_MANY.exec(message))) close(m[1], "failed", i);
      else if ((m = RE_WARNING.exec(message))) {
        const run = open.get(m[1]);
        if (run) run.reason = m[2];
      }
    }
    const now = jobActive ? faceNow(last) ?? last : last;
    for (const run of open.values()) {
      run.outcome = jobActive ? "running" : "killed";
      run.end = now;
    }
    return { runs, stages, lanes, start: times.find((t) => t !== null) ?? null, end: open.size ? now : last };
  }

  function renderTimeline(box, events, jobActive, stageOrder) {
    const { runs, stages, lanes, start, end } = buildRuns(events, jobActive);
    const order = stageOrder.concat(stages.filter((s) => !stageOrder.includes(s)));
    clear(box);
    if (!runs.length) {
      box.append(el("p", { className: "muted", textContent: "No task has run yet." }));
      return;
    }
    const t0 = start;
    const span = Math.max(end - t0 + 1 / Math.max(1, events.length), 0.001) * (jobActive ? 1.02 : 1);
    const pct = (t) => ((t - t0) / span) * 100;
    const legend = el("div", { className: "legend" },
      order.map((s, i) => el("span", { className: "key" }, el("i", { className: "swatch stage-" + (i % 8) }), s)),
      ["done", "running", "failed", "fatal", "killed"].map((o) => el("span", { className: "key" }, el("i", { className: "swatch stage-none outcome-" + o }), o)));
    // Stamps are whole seconds: ticks fall on whole seconds (within one, bars keep the log's order).
    const axis = el("div", { className: "tl-axis" });
    const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400].find((s) => span / s <= 8) || 86400;
    for (let t = 0; t <= span; t += step) {
      axis.append(el("span", { className: "tick", style: { left: pct(t0 + t) + "%" }, textContent: "+" + formatDuration(t).replace(".0 s", " s") }));
    }
    const rows = [];
    for (const host of [...lanes.keys()].sort()) {
      const slots = lanes.get(host);
      for (let slot = 0; slot < slots.length; slot++) {
        const track = el("div", { className: "tl-track" });
        for (const run of runs) {
          if (run.host !== host || run.slot !== slot) continue;
          const stageIndex = order.indexOf(run.stage) % 8;
          const left = pct(run.start);
          const width = Math.max(pct(run.end ?? run.start) - left, 0);
          const took = run.took !== null ? `, took ${formatDuration(run.took)}` : "";
          const bar = el("div", {
            className: `tl-bar stage-${stageIndex} outcome-${run.outcome}` + (run.attempt > 1 ? " retry" : ""),
            title: `${run.tag} on ${run.host} slot ${slot + 1}, attempt ${run.attempt}: ${run.outcome}${took}${run.reason ? "\n" + run.reason : ""}`,
            style: { left: left + "%", width: `max(${width}%, 3px)` },
            data: { task: run.tag, attempt: String(run.attempt), outcome: run.outcome, host: run.host, slot: String(slot + 1) },
          }, run.attempt > 1 ? el("span", { className: "retry-mark", textContent: "\u21bb" + run.attempt }) : null);
          track.append(bar);
        }
        rows.push(el("div", { className: "tl-row", data: { host, slot: String(slot + 1) } },
          el("span", { className: "tl-label", textContent: `${host} #${slot + 1}`, title: `${host}, slot ${slot + 1}` }), track));
      }
    }
    append(box, [legend, el("div", { className: "tl-head" }, el("span", { className: "tl-label" }), axis), el("div", { className: "tl-rows", id: "timeline-rows" }, rows)]);
  }

  // -- the job page -----------------------------------------------------------------------------

  function eventLevel(message) {
    if (/^(ERROR|FATAL)\b/.test(message)) return "error";
    if (/^(WARNING|WARN)\b/.test(message) || RE_RETRY.test(message)) return "warning";
    if (/^READY\b/.test(message)) return "ready";
    if (/^(MSG|DONE|SYS)\b/.test(message)) return "task";
    return "info";
  }

  function eventRow([time, host, message]) {
    return el("div", { className: "event level-" + eventLevel(message) },
      el("span", { className: "ev-time", textContent: time }),
      el("span", { className: "ev-host", textContent: host }),
      el("span", { className: "ev-text", textContent: message }));
  }

  const STAGE_COLUMNS = ["pending", "waiting", "running", "done", "failed"];

  class JobPage {
    constructor(root, name) {
      this.root = root;
      this.name = name;
      this.info = null;
      this.events = new EventReader(name);
      this.useJobevents = false;
      this.finished = false;
      this.filter = "";
      this.build();
      readJobdict(name).then((jobdict) => this.renderJobdict(jobdict)).catch(() => this.renderJobdict(null));
    }

    build() {
      this.header = el("div", { className: "job-head" });
      this.actions = el("div", { className: "actions" },
        el("button", { id: "kill", textContent: "Kill", className: "danger", onclick: () => this.act("kill_job", "Kill requested") }),
        confirmButton("Clean", () => this.act("clean_job", "Cleaned", true), { id: "clean" }),
        confirmButton("Purge", () => this.act("purge_job", "Purged", true), { id: "purge", className: "danger" }));
      this.stages = el("div", { id: "stages" });
      this.timeline = el("div", { id: "timeline", className: "timeline" });
      this.eventList = el("div", { id: "events", className: "events" });
      this.follow = el("input", { type: "checkbox", id: "follow", checked: true });
      this.eventFilter = el("input", {
        type: "search", id: "event-filter", placeholder: "Filter (the master's jobevents search)",
        onchange: () => this.setFilter(this.eventFilter.value),
      });
      this.eventNote = el("span", { className: "muted", id: "event-note" });
      this.jobdict = el("div", { id: "jobdict" }, el("p", { className: "muted", textContent: "Reading the job pack\u2026" }));
      this.inputs = el("div", { id: "inputs" });
      this.results = el("div", { id: "results" });
      append(this.root, [
        el("p", { className: "crumbs" }, el("a", { href: "#/jobs", textContent: "Jobs" }), " / "),
        el("div", { className: "toolbar" }, el("h1", { id: "job-name", textContent: this.name }), el("span", { id: "job-status" }), el("span", { className: "spacer" }), this.actions),
        this.header,
        section("Stages", this.stages),
        section("Timeline", el("p", { className: "muted hint", textContent: "One row per node slot, one bar per task run (hover for details). Built from the events, whose stamps are whole seconds: within a second, bars keep the order of the log." }), this.timeline),
        section("Events",
          el("div", { className: "toolbar small" }, this.eventFilter, el("label", null, this.follow, " follow"), this.eventNote,
            el("span", { className: "spacer" }), el("a", { href: "/disco/ctrl/rawevents?" + q(this.name), textContent: "raw events" })),
          this.eventList),
        el("div", { className: "columns" }, section("Job dict", this.jobdict), section("Inputs", this.inputs), section("Results", this.results)),
      ]);
    }

    interval() {
      return this.finished ? null : POLL_MS;
    }

    async refresh() {
      const info = await getJSON("/disco/ctrl/jobinfo?" + q(this.name));
      if (info === null) {
        this.gone();
        return;
      }
      this.info = info;
      const fresh = await this.readEvents();
      const active = info.active === "active" || info.active === "initializing";
      this.renderInfo(info);
      if (fresh === null || fresh.length || !this.drawn) this.renderEvents(fresh);
      else if (active && this.events.events.length < 5000) this.renderTimeline();
      if (this.filter) await this.renderFiltered();
      // An ended job changes no more: one last read of its events, then no polling.
      if (!active) this.finished = true;
    }

    async readEvents() {
      if (!this.useJobevents) {
        const fresh = await this.events.read();
        if (fresh !== null) return fresh;
        this.useJobevents = true;
      }
      // No events file served: the newest events from jobevents instead.
      const recent = await jobEvents(this.name, 1000);
      this.events.events = (recent || []).reverse();
      return null;
    }

    gone() {
      this.finished = true;
      clear(this.header).append(el("p", { className: "notice", id: "gone", textContent: "The master has no job of this name (it may have been cleaned or purged)." }));
      for (const button of this.actions.querySelectorAll("button")) button.disabled = true;
    }

    renderInfo(info) {
      const status = String(info.active);
      clear(document.getElementById("job-status")).append(statusBadge(status));
      this.root.dataset.status = status;
      this.actions.querySelector("#kill").disabled = status !== "active";
      const start = parseStamp(info.timestamp);
      const evs = this.events.events;
      let duration = null;
      const lastEvent = evs.length ? evs[evs.length - 1] : null;
      if (lastEvent) {
        const ready = /^READY: Job done in (.*)$/.exec(lastEvent[2]);
        let end = parseStamp(lastEvent[0]);
        if (status === "active" && end !== null) end = faceNow(end) ?? end;
        duration = ready ? parseDuration(ready[1]) : start !== null && end !== null ? end - start : null;
        if (!ready && status !== "active") duration = roughDuration(duration);
      }
      clear(this.header).append(definitionList([
        ["Owner", String(info.owner ?? "")],
        ["Started", String(info.timestamp ?? "")],
        [status === "active" ? "Running for" : "Took", typeof duration === "string" ? duration : formatDuration(duration)],
        ["Worker", String(info.worker ?? "")],
        ["Running on", (info.hosts || []).length ? [...new Set(info.hosts.map(String))].join(", ") : ""],
      ]));
      const rows = (info.pipeline || []).map((row) => {
        const [stage, ...counts] = row;
        const values = counts.map(Number);
        const total = values.reduce((sum, v) => sum + Math.max(v, 0), 0);
        const bar = el("div", { className: "stage-bar" });
        STAGE_COLUMNS.forEach((column, i) => {
          if (values[i] > 0) bar.append(el("span", { className: "seg seg-" + column, style: { flexGrow: String(values[i]) }, title: `${values[i]} ${column}`, data: { column } }));
        });
        if (!total) bar.append(el("span", { className: "seg seg-empty", style: { flexGrow: "1" } }));
        return el("div", { className: "stage", data: { stage: String(stage) } },
          el("span", { className: "stage-name", textContent: String(stage) }),
          bar,
          el("span", { className: "stage-counts" },
            STAGE_COLUMNS.map((column, i) => el("span", { className: "count count-" + column, data: { column, value: String(values[i]) } }, el("b", { textContent: String(values[i]) }), " " + column))));
      });
      this.stages.replaceChildren(...(rows.length ? rows : [el("p", { className: "muted", textContent: "No stages yet." })]));
      this.inputs.replaceChildren(this.urlList(info.inputs || [], "inputs"));
      this.results.replaceChildren(
        (info.results || []).length
          ? this.urlList(info.results, "results")
          : el("p", { className: "muted", textContent: { ready: "No results.", dead: "None: the job did not finish." }[status] || "Results appear when the job is ready." }));
    }

    urlList(urls, what) {
      const shown = urls.slice(0, 200);
      const list = el("ul", { className: "urls", data: { what } }, shown.map((u) => el("li", null, link(String(u)))));
      if (urls.length > shown.length) list.append(el("li", { className: "muted", textContent: `and ${urls.length - shown.length} more` }));
      return urls.length ? list : el("p", { className: "muted", textContent: "None." });
    }

    renderTimeline() {
      const active = this.info && this.info.active === "active";
      const stageOrder = ((this.info && this.info.pipeline) || []).map((row) => String(row[0]));
      renderTimeline(this.timeline, this.events.events, active, stageOrder);
    }

    renderEvents(fresh) {
      const all = this.events.events;
      this.renderTimeline();
      this.drawn = true;
      if (this.filter) return;
      const atBottom = this.eventList.scrollTop + this.eventList.clientHeight >= this.eventList.scrollHeight - 4;
      if (fresh === null || this.eventList.childElementCount + fresh.length > MAX_EVENT_ROWS) {
        this.eventList.replaceChildren(...all.slice(-MAX_EVENT_ROWS).map(eventRow));
      } else {
        append(this.eventList, fresh.map(eventRow));
      }
      this.eventNote.textContent = all.length > MAX_EVENT_ROWS ? `the last ${MAX_EVENT_ROWS} of ${all.length} events` : `${all.length} events`;
      if (this.follow.checked && (atBottom || fresh === null || this.eventList.childElementCount === all.length)) {
        this.eventList.scrollTop = this.eventList.scrollHeight;
      }
    }

    async setFilter(text) {
      this.filter = text.trim();
      if (this.filter) {
        await this.renderFiltered().catch(flashError);
      } else {
        this.eventList.replaceChildren(...this.events.events.slice(-MAX_EVENT_ROWS).map(eventRow));
        this.eventNote.textContent = `${this.events.events.length} events`;
      }
    }

    async renderFiltered() {
      const found = (await jobEvents(this.name, 1000, this.filter)) || [];
      this.eventList.replaceChildren(...found.slice().reverse().map(eventRow));
      this.eventNote.textContent = `${found.length} events match`;
    }

    renderJobdict(jobdict) {
      if (!jobdict || typeof jobdict !== "object") {
        this.jobdict.replaceChildren(el("p", { className: "muted", textContent: "The job pack could not be read." }));
        return;
      }
      const pipeline = Array.isArray(jobdict.pipeline)
        ? jobdict.pipeline.map((s) => (Array.isArray(s) ? `${s[0]} (${s[1]}${s[2] ? ", concurrent" : ""})` : String(s))).join(" \u2192 ")
        : jobdict.map ? ["map", jobdict.reduce ? "reduce" : null].filter(Boolean).join(" \u2192 ") + " (v1)" : "";
      const inputs = Array.isArray(jobdict.inputs) ? jobdict.inputs.length : "";
      const scheduler = jobdict.scheduler && typeof jobdict.scheduler === "object"
        ? Object.entries(jobdict.scheduler).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") : "";
      this.jobdict.replaceChildren(definitionList([
        ["Prefix", jobdict.prefix],
        ["Owner", jobdict.owner],
        ["Worker", jobdict.worker],
        ["Pipeline", pipeline],
        ["Inputs", inputs],
        ["Scheduler", scheduler],
        ["Save results", jobdict.save_results === undefined ? "" : String(jobdict.save_results)],
        ["Job pack", el("a", { href: "/disco/ctrl/parameters?" + q(this.name), textContent: "parameters" })],
      ]));
    }

    async act(op, done, leaves = false) {
      try {
        await control(op, this.name);
        flash(`${done}: ${this.name}`, "info");
        if (leaves) {
          location.hash = "#/jobs";
          return;
        }
        this.finished = false;
        poller.now();
      } catch (error) {
        flashError(error);
      }
    }
  }

  // -- the nodes page ---------------------------------------------------------------------------

  class NodesPage {
    constructor(root) {
      this.root = root;
      this.tbody = el("tbody", { id: "node-rows" });
      this.gcList = [];
      append(root, [
        el("div", { className: "toolbar" }, el("h1", { textContent: "Nodes" }), el("span", { className: "muted", id: "node-summary" })),
        el("table", { className: "nodes", id: "nodes" },
          el("thead", null, el("tr", null, ["Node", "Slots", "Running tasks", "Done", "Task errors", "Failures", "Disk free", "State", ""].map((h) => el("th", { textContent: h })))),
          this.tbody),
      ]);
    }

    interval() {
      return POLL_MS;
    }

    async refresh() {
      const [nodes, gc] = await Promise.all([getJSON("/disco/ctrl/nodeinfo"), getJSON("/disco/ctrl/get_gc_blacklist")]);
      this.gcList = Array.isArray(gc) ? gc.map(String) : [];
      const names = Object.keys(nodes || {}).sort();
      let slots = 0;
      let busy = 0;
      const rows = names.map((name) => {
        const node = nodes[name] || {};
        const tasks = Array.isArray(node.tasks) ? node.tasks.map(String) : [];
        const max = Number(node.max_workers) || 0;
        slots += max;
        busy += tasks.length;
        const counts = new Map();
        for (const job of tasks) counts.set(job, (counts.get(job) || 0) + 1);
        const meter = el("span", { className: "slots" });
        for (let i = 0; i < Math.max(max, tasks.length); i++) meter.append(el("i", { className: i < tasks.length ? "slot busy" : "slot" }));
        const blacklisted = Boolean(node.blacklisted);
        const gcListed = this.gcList.includes(name);
        const state = [];
        if (blacklisted) state.push(el("span", { className: "badge status-dead blacklisted", textContent: "blacklisted" }));
        if (gcListed) state.push(el("span", { className: "badge gc", textContent: "GC blacklisted" }));
        if (node.connected === false) state.push(el("span", { className: "badge status-dead", textContent: "disconnected" }));
        if (!state.length) state.push(el("span", { className: "badge status-ready", textContent: "ok" }));
        return el("tr", { data: { node: name, blacklisted: String(blacklisted) } },
          el("td", { className: "node-name", textContent: name }),
          el("td", { className: "slots-cell" }, meter, ` ${tasks.length}/${max}`),
          el("td", { className: "tasks" }, [...counts].map(([job, n]) => el("div", null, el("a", { href: jobHash(job), textContent: job }), n > 1 ? ` \u00d7${n}` : ""))),
          el("td", { textContent: String(node.job_ok ?? "") }),
          el("td", { textContent: String(node.data_error ?? "") }),
          el("td", { textContent: String(node.error ?? "") }),
          el("td", { textContent: node.diskfree !== undefined ? formatKB(node.diskfree) : "" }),
          el("td", null, state),
          el("td", null, el("div", { className: "node-actions" },
            el("button", { className: blacklisted ? "whitelist" : "blacklist danger", textContent: blacklisted ? "Whitelist" : "Blacklist", onclick: () => this.act(blacklisted ? "whitelist" : "blacklist", name) }),
            el("button", { className: gcListed ? "gc-whitelist" : "gc-blacklist", textContent: gcListed ? "GC whitelist" : "GC blacklist", onclick: () => this.act(gcListed ? "gc_whitelist" : "gc_blacklist", name) }))));
      });
      if (!rows.length) rows.push(el("tr", null, el("td", { colSpan: 9, className: "muted empty", textContent: "No nodes." })));
      this.tbody.replaceChildren(...rows);
      document.getElementById("node-summary").textContent = `${names.length} nodes, ${busy} of ${slots} slots busy`;
    }

    async act(op, node) {
      try {
        await control(op, node);
        poller.now();
      } catch (error) {
        flashError(error);
      }
    }
  }

  function formatKB(kb) {
    const n = Number(kb);
    if (!isFinite(n)) return "";
    if (n >= 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + " GiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " MiB";
    return n + " KiB";
  }

  // -- the settings page ------------------------------------------------------------------------

  class SettingsPage {
    constructor(root) {
      this.root = root;
      this.form = el("form", { id: "settings-form", className: "settings", onsubmit: (e) => { e.preventDefault(); this.save(); } });
      this.table = el("div", { id: "node-table" },
        el("p", { className: "muted", textContent: "The node table is read from the config file only on request: reading it also re-applies it." }),
        el("button", { id: "load-table", textContent: "Load the node table", onclick: () => this.loadTable() }));
      append(root, [
        el("div", { className: "toolbar" }, el("h1", { textContent: "Settings" })),
        section("Job settings", this.form),
        section("Node table", this.table),
        section("This page", definitionList([
          ["Master", location.origin],
          ["Token", sessionStorage.getItem(TOKEN_KEY) ? "set for this tab" : "none (asked for when the master wants one)"],
          ["Polling", "at most once a second, only while the tab is visible"],
        ])),
      ]);
    }

    interval() {
      return null;
    }

    async refresh() {
      const settings = (await getJSON("/disco/ctrl/get_settings")) || {};
      const field = (key, label, help) => el("label", { className: "field" }, el("span", { textContent: label }),
        el("input", { type: "number", name: key, id: "setting-" + key, value: String(settings[key] ?? ""), step: "1" }),
        el("small", { className: "muted", textContent: help }));
      this.form.replaceChildren(
        field("max_failure_rate", "max_failure_rate", "How many times a task may fail before its job dies."),
        field("accept_new_jobs", "accept_new_jobs", "1 accepts new jobs, 0 refuses them (403)."),
        el("button", { type: "submit", id: "save-settings", textContent: "Save settings" }));
    }

    async save() {
      const values = {};
      for (const input of this.form.querySelectorAll("input")) values[input.name] = String(input.value).trim();
      try {
        const reply = await control("save_settings", values);
        flash(String(reply || "Settings saved"), "info");
        await this.refresh();
      } catch (error) {
        flashError(error);
      }
    }

    async loadTable() {
      try {
        const table = await authorised("GET", "/disco/ctrl/load_config_table");
        this.showTable(Array.isArray(table) ? table : []);
      } catch (error) {
        flashError(error);
      }
    }

    showTable(table) {
      const body = el("tbody", { id: "table-rows" });
      const row = (spec = "", slots = "") => el("tr", null,
        el("td", null, el("input", { className: "spec", value: String(spec), placeholder: "node01:10" })),
        el("td", null, el("input", { className: "count", value: String(slots), placeholder: "slots", size: 5 })),
        el("td", null, el("button", { type: "button", textContent: "Remove", onclick: (e) => e.target.closest("tr").remove() })));
      for (const [spec, slots] of table) body.append(row(spec, slots));
      this.table.replaceChildren(
        el("table", { className: "node-table" }, el("thead", null, el("tr", null, el("th", { textContent: "Nodes" }), el("th", { textContent: "Slots" }), el("th"))), body),
        el("div", { className: "buttons" },
          el("button", { type: "button", textContent: "Add a row", onclick: () => body.append(row()) }),
          el("button", { type: "button", id: "save-table", textContent: "Save the node table", onclick: () => this.saveTable(body) })));
    }

    async saveTable(body) {
      const table = [...body.querySelectorAll("tr")].map((tr) => [tr.querySelector(".spec").value.trim(), tr.querySelector(".count").value.trim()]).filter(([s]) => s);
      try {
        flash(String(await control("save_config_table", table)), "info");
      } catch (error) {
        flashError(error);
      }
    }
  }

  // -- routing and polling ----------------------------------------------------------------------

  /** One poll loop: the current page's refresh, then a pause of its interval (at least a
   * second), never two at once; nothing while the tab is hidden. */
  const poller = {
    page: null,
    timer: null,
    running: false,
    again: false,
    start(page) {
      this.page = page;
      this.now();
    },
    /** Refresh now (a new page, or after an action), then go on at the page's pace. */
    now() {
      clearTimeout(this.timer);
      this.timer = null;
      if (this.running) this.again = true;
      else this.tick();
    },
    async tick() {
      if (document.hidden) return;
      this.running = true;
      const page = this.page;
      try {
        await page.refresh();
        markLive(true);
      } catch (error) {
        markLive(false);
        if (!(error instanceof ApiError) || error.status !== 0) flashError(error);
      } finally {
        this.running = false;
      }
      if (page !== this.page || this.again) {
        this.again = false;
        this.now();
        return;
      }
      const delay = page.interval();
      if (delay !== null) this.timer = setTimeout(() => this.now(), Math.max(POLL_MS, delay));
    },
  };

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !poller.timer && !poller.running) poller.now();
  });

  function route() {
    const hash = location.hash || "#/jobs";
    const [path, query] = hash.slice(1).split("?");
    const parts = path.split("/").filter(Boolean);
    const params = new URLSearchParams(query || "");
    const main = clear(document.getElementById("main"));
    if (poller.page && poller.page.close) poller.page.close();
    let page;
    let nav = parts[0] || "jobs";
    if (parts[0] === "job" && parts.length >= 2) {
      let name = parts.slice(1).join("/");
      try {
        name = decodeURIComponent(name);
      } catch (e) {
        /* not %-encoded: the name as written */
      }
      page = new JobPage(main, name);
      document.title = name + " \u2013 Disco";
      nav = "jobs";
    } else if (parts[0] === "nodes") {
      page = new NodesPage(main);
      document.title = "Nodes \u2013 Disco";
    } else if (parts[0] === "settings") {
      page = new SettingsPage(main);
      document.title = "Settings \u2013 Disco";
    } else {
      page = new JobsPage(main, params);
      document.title = "Jobs \u2013 Disco";
      nav = "jobs";
    }
    main.dataset.page = page.constructor.name;
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.dataset.nav === nav);
    poller.start(page);
  }

  async function boot() {
    showTokenState();
    getJSON("/disco/version").then((v) => { document.getElementById("version").textContent = v ? "Disco " + v : ""; }).catch(() => null);
    window.addEventListener("hashchange", route);
    route();
  }

  // For tests and for people poking at the page from the console.
  window.pydisco = { parseJobEvents, buildRuns, eventTimes, dataHref, poller, POLL_MS };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
