// slipstream's live rollouts page. Everything the server sends is written
// into the page as text (textContent, attributes of SVG numbers), never as
// markup: annotations and commit subjects are anyone's.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function ago(iso, now) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}

function revision(r) {
  if (!r) return "—";
  let s = r.name;
  if (r.tag) s += " (" + r.tag + (r.digest ? "@" + r.digest : "") + ")";
  return s;
}

// chart draws the candidate's share over time, 0–100 %, as steps, with a
// mark where the rollout was promoted or rolled back.
function chart(history, now) {
  const W = 600, H = 140, L = 30, R = 8, T = 8, B = 18;
  const c = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
    "data-points": history.length, "data-last": history.length ? history[history.length - 1].candidate : 0 });
  for (const p of [0, 50, 100]) {
    const y = T + (H - T - B) * (1 - p / 100);
    c.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }));
    const t = svg("text", { class: "axis", x: 2, y: y + 3 }); t.textContent = p + "%"; c.append(t);
  }
  if (!history.length) return c;
  const t0 = Date.parse(history[0].at), t1 = Math.max(now, t0 + 1000);
  const x = (iso) => L + (W - L - R) * (Date.parse(iso) - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - v / 100);
  let d = "", prev = null;
  for (const p of history) {
    const px = x(p.at).toFixed(1), py = y(p.candidate).toFixed(1);
    d += prev === null ? `M${px},${py}` : `H${px}V${py}`;
    // A mark where a rollout ended: promoted (green) or rolled back (red).
    if ((p.phase === "RolledBack" || p.phase === "Promoted") && (prev === null || prev.phase !== p.phase)) {
      c.append(svg("line", { class: "mark-" + p.phase, x1: px, x2: px, y1: T, y2: H - B }));
    }
    prev = p;
  }
  d += `H${(W - R).toFixed(1)}`;
  c.append(svg("path", { class: "area", d: d + `V${y(0)}H${x(history[0].at).toFixed(1)}Z` }));
  c.append(svg("path", { class: "share", d }));
  const label = svg("text", { class: "axis", x: L, y: H - 4 });
  label.textContent = "the new version's share of the traffic, since " + new Date(t0).toLocaleTimeString();
  c.append(label);
  return c;
}

function card(s, now) {
  const c = el("section", { class: "svc", "data-key": s.key, "data-phase": s.phase, "data-candidate": s.candidatePercent });
  const head = el("div", { class: "head" });
  head.append(el("span", { class: "name" }, s.key), el("span", { class: "phase", "data-phase": s.phase }, s.phase));
  if (s.steps > 0) head.append(el("span", { class: "step" }, `step ${s.step}/${s.steps}`));
  if (s.since) head.append(el("span", { class: "step" }, "since " + ago(s.since, now)));
  c.append(head);
  c.append(el("div", { class: "revs" }, "stable " + revision(s.stable) + " · candidate " + revision(s.candidate)));
  const stable = 100 - s.candidatePercent;
  const bar = el("div", { class: "bar", role: "img", "aria-label": `stable ${stable}%, candidate ${s.candidatePercent}%` });
  bar.append(el("div", { class: "stable" }), el("div", { class: "candidate" }));
  bar.children[0].style.width = (s.candidate ? stable : 100) + "%";
  bar.children[1].style.width = (s.candidate ? s.candidatePercent : 0) + "%";
  c.append(bar);
  const split = (s.traffic || []).map((t) => `${t.tag || t.revision} ${t.percent}%`).join(", ") || "no traffic yet";
  c.append(el("div", { class: "split" }, split + (s.settled ? "" : " (updating)")));
  c.append(chart(s.history || [], now));
  if (s.phase === "RolledBack" && s.reason) {
    c.append(el("p", { class: "rollback" }, "Rolled back: " + s.reason));
  } else if (s.reason) {
    c.append(el("p", { class: "reason" }, s.reason));
  }
  if (s.analysis) c.append(el("p", { class: "reason" }, "analysis: " + s.analysis));
  if (s.problem) c.append(el("p", { class: "rollback" }, "problem: " + s.problem));
  return c;
}

function safeURL(u) {
  try {
    const p = new URL(u);
    return p.protocol === "https:" || p.protocol === "http:" ? p.href : null;
  } catch (e) { return null; }
}

function render(state) {
  const now = Date.now();
  document.getElementById("where").textContent = state.where || "";
  const problem = document.getElementById("problem");
  problem.hidden = !state.problem;
  problem.textContent = state.problem || "";
  const list = document.getElementById("services");
  list.replaceChildren(...state.services.map((s) => card(s, now)));
  if (!state.services.length) list.append(el("p", { class: "empty" }, "No Knative Service managed by slipstream yet: push an image."));
  if (state.more) list.append(el("p", { class: "empty" }, `and ${state.more} more, not shown`));
  const commits = document.getElementById("commits");
  commits.replaceChildren(...state.commits.map((c) => {
    const li = el("li");
    const url = c.url && safeURL(c.url);
    const hash = url ? el("a", { class: "hash", href: url, rel: "noreferrer noopener", target: "_blank" }, c.hash.slice(0, 7))
      : el("span", { class: "hash" }, c.hash.slice(0, 7));
    li.append(hash, document.createTextNode(c.subject), el("span", { class: "when" }, c.author + ", " + ago(c.at, now)));
    return li;
  }));
  if (!state.commits.length) commits.append(el("li", { class: "empty" }, "no commits to show"));
  document.body.dataset.services = String(state.services.length);
}

function follow() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.addEventListener("state", (ev) => {
    live.dataset.state = "live";
    live.textContent = "live";
    render(JSON.parse(ev.data));
  });
  es.onerror = () => { live.dataset.state = "lost"; live.textContent = "reconnecting…"; };
}

fetch("/api/state").then((r) => r.json()).then(render).finally(follow);
