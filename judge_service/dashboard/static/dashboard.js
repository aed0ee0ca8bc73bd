// The dashboard's only script: bars, live refresh of a judging run, and human labelling.
"use strict";

// Bars and shades carry their geometry in data- attributes: the Content-Security-Policy
// allows no inline style, and styles set through the DOM are not inline markup.
function draw(root) {
  for (const el of root.querySelectorAll("[data-left]")) el.style.left = el.dataset.left;
  for (const el of root.querySelectorAll("[data-width]")) el.style.width = el.dataset.width;
  for (const el of root.querySelectorAll("[data-shade]")) el.style.setProperty("--k", el.dataset.shade);
}
draw(document);

// A filter that applies on change (no inline onchange: the policy forbids inline script).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit")) field.form.submit();
});

// Live: while the run judges, re-fetch its body and swap it in, no page reload. The next
// poll waits at least twice as long as the last response took, so a big run's figures
// never keep the server busy.
function follow(section) {
  const body = () => section.querySelector(".run-body");
  const poll = async () => {
    if (!body() || body().dataset.status === "done") return;
    const started = performance.now();
    try {
      const response = await fetch(section.dataset.liveUrl, { headers: { Accept: "text/html" } });
      if (response.ok) {
        section.innerHTML = await response.text();
        draw(section);
      }
    } catch (error) {
      console.warn("live refresh failed", error);
    }
    const took = performance.now() - started;
    setTimeout(poll, Math.max(2000, 2 * took));
  };
  setTimeout(poll, 2000);
}

// Signed in with a key, the page names the key's annotator (read-only): labels are made as it.
function annotatorInput() {
  const input = document.getElementById("annotator");
  if (!input) return null;
  if (input.hasAttribute("data-fixed")) return input;
  input.value = localStorage.getItem("judge.annotator") || "";
  input.addEventListener("change", () => localStorage.setItem("judge.annotator", input.value.trim()));
  return input;
}

function nextUrl(box, annotator) {
  return `/runs/${box.dataset.runId}/label?annotator=${encodeURIComponent(annotator)}`;
}

// Labels go through the public API (POST /v1/pairs/{id}/human-labels), as a script would.
function labelling(box) {
  const input = annotatorInput();
  const status = document.getElementById("label-status");
  const blind = box.dataset.blind === "true";
  const record = async (label) => {
    const annotator = input.value.trim();
    if (!annotator) {
      status.textContent = "Enter your name first.";
      input.focus();
      return;
    }
    if (!input.hasAttribute("data-fixed")) localStorage.setItem("judge.annotator", annotator);
    status.textContent = "Saving…";
    const response = await fetch(`/v1/pairs/${box.dataset.pairId}/human-labels`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ label, annotator }),
    });
    if (!response.ok) {
      status.textContent = `Not saved: HTTP ${response.status}`;
      return;
    }
    status.textContent = `Saved: ${label}`;
    if (blind) {
      window.location.assign(nextUrl(box, annotator));
      return;
    }
    const list = box.querySelector("ul.labels");
    const mine = [...list.children].find((item) => item.dataset.annotator === annotator);
    const item = mine || list.appendChild(document.createElement("li"));
    item.dataset.annotator = annotator;
    item.textContent = `${annotator}: ${label}`;
  };
  for (const button of box.querySelectorAll("button[data-label]")) {
    button.addEventListener("click", () => record(button.dataset.label));
  }
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = box.querySelector(`[data-key="${event.key}"]`);
    if (target) {
      event.preventDefault();
      target.click();
    }
  });
}

// "Label a random sample" links carry the annotator, so the server skips what they labelled.
// Delegated: the live refresh replaces the links inside the run's body.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element && event.target.closest("a[data-label-start]");
  if (!link) return;
  event.preventDefault();
  const url = new URL(link.href, window.location.href);
  url.searchParams.set("annotator", (localStorage.getItem("judge.annotator") || "").trim());
  window.location.assign(url.toString());
});

// Signing in sends the key once, in a request body; the server answers with a cookie.
function signIn(form) {
  const status = document.getElementById("login-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ api_key: form.elements.api_key.value.trim() }),
    });
    if (response.ok) window.location.assign(form.dataset.next);
    else status.textContent = response.status === 401 ? "Unknown or revoked key." : `HTTP ${response.status}`;
  });
}

document.addEventListener("click", async (event) => {
  const link = event.target instanceof Element && event.target.closest("a[data-sign-out]");
  if (!link) return;
  event.preventDefault();
  await fetch("/session", { method: "DELETE" });
  window.location.assign("/login");
});

// Starting the label queue names the annotator once; the blind pages that follow reuse it.
function labelStart(form) {
  const input = form.querySelector('input[name="annotator"]');
  input.value = localStorage.getItem("judge.annotator") || "";
  form.addEventListener("submit", () => localStorage.setItem("judge.annotator", input.value.trim()));
}

document.addEventListener("DOMContentLoaded", () => {
  const start = document.querySelector("form.label-start");
  if (start) labelStart(start);
  const login = document.querySelector("form.login");
  if (login) signIn(login);
  const live = document.getElementById("live");
  if (live) follow(live);
  const box = document.querySelector(".label-box");
  if (box) labelling(box);
});
