// clipforge editor: plain JavaScript, bundled with the package (no CDN, no inline code: the CSP forbids it).
// Every edit is a POST of JSON to /api/edit with the CSRF token from <meta name="csrf">; the server
// queues it, rebuilds only the clip it touched, and /api/status says how far it got.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const editable = document.body.dataset.editable === "yes";
  const statusBox = document.getElementById("status");
  const messages = document.getElementById("messages");
  const logBox = document.querySelector("#log pre");
  let builds = null;

  function say(text) {
    const li = document.createElement("li");
    li.textContent = text;  // textContent: whatever the server said is shown, never parsed as HTML
    messages.prepend(li);
  }

  async function post(body) {
    const resp = await fetch("/api/edit", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Clipforge-CSRF": csrf },
      body: JSON.stringify(body),
    });
    if (resp.status === 202) {
      const data = await resp.json();
      // This card shows the clip as it was: further edits of it wait for the reload after the build
      // (the server would refuse them as made against a changed clip).
      const c = body.clip && document.getElementById("clip-" + body.clip);
      if (c) {
        c.classList.add("pending");
        c.querySelectorAll("button, input, select").forEach(function (el) { el.disabled = true; });
      }
      say("queued: " + body.action + (body.clip ? " " + body.clip : "") + (data.queued ? " (" + data.queued + " ahead)" : ""));
    } else {
      say((await resp.text()).trim());
    }
    poll();
  }

  function card(el) { return el.closest(".card"); }
  function base(c) { return { clip: c.dataset.clip, version: c.dataset.version }; }
  function mode(c) {
    const r = c.querySelector('input[type="radio"]:checked');
    return r ? r.value : "start";
  }

  document.addEventListener("click", function (ev) {
    const t = ev.target;
    if (!(t instanceof HTMLElement)) return;
    const c = card(t);
    if (t.classList.contains("w") && c && editable && !c.classList.contains("pending")) {
      const i = parseInt(t.dataset.i, 10);
      if (c.id === "add") return selectForAdd(c, t, i);
      const m = mode(c);
      if (m === "fix") {
        const box = c.querySelector(".fix");
        box.hidden = false;
        box.dataset.index = String(i);
        const input = box.querySelector(".fixtext");
        input.value = t.textContent;
        input.focus();
        return;
      }
      if (m === "broll") {
        return post(Object.assign({ action: "broll_add", index: i, asset: c.querySelector("select.asset").value }, base(c)));
      }
      const first = parseInt(c.dataset.first, 10), last = parseInt(c.dataset.last, 10);
      const span = m === "start" ? { first: i, last: last } : { first: first, last: i };
      if (span.first > span.last) { say("the start must come before the end"); return; }
      return post(Object.assign({ action: "trim" }, base(c), span));
    }
    if (t.tagName === "IMG" && t.classList.contains("frame") && c && editable && !c.classList.contains("pending")) {
      const r = t.getBoundingClientRect();
      return post(Object.assign({ action: "keyframe" }, base(c),
        { x: (ev.clientX - r.left) / r.width, y: (ev.clientY - r.top) / r.height }));
    }
    if (t.tagName !== "BUTTON" || !t.dataset.act) return;
    const act = t.dataset.act;
    if (act === "make_editable") return post({ action: "make_editable" });
    if (!c) return;
    if (act === "title") return post(Object.assign({ action: "title", title: c.querySelector("input.title").value }, base(c)));
    if (act === "nudge") {
      const span = { first: parseInt(c.dataset.first, 10), last: parseInt(c.dataset.last, 10) };
      span[t.dataset.edge] += parseInt(t.dataset.step, 10);
      return post(Object.assign({ action: "trim" }, base(c), span));
    }
    if (act === "approve") return post(Object.assign({ action: "approve", approved: t.dataset.approved === "yes" }, base(c)));
    if (act === "drop") return post(Object.assign({ action: "drop" }, base(c)));
    if (act === "broll_remove") return post(Object.assign({ action: "broll_remove", index: parseInt(t.dataset.index, 10) }, base(c)));
    if (act === "fix") {
      const box = c.querySelector(".fix");
      return post(Object.assign({ action: "fix", index: parseInt(box.dataset.index, 10),
        text: box.querySelector(".fixtext").value }, base(c)));
    }
    if (act === "add") {
      return post({ action: "add", first: parseInt(c.dataset.first, 10), last: parseInt(c.dataset.last, 10),
        title: c.querySelector("input.title").value });
    }
  });

  document.addEventListener("change", function (ev) {
    const t = ev.target;
    if (t instanceof HTMLSelectElement && t.dataset.act === "frame") {
      post(Object.assign({ action: "frame", mode: t.value }, base(card(t))));
    }
    if (t instanceof HTMLSelectElement && t.dataset.act === "captions") {
      post(Object.assign({ action: "captions", style: t.value }, base(card(t))));
    }
  });

  function selectForAdd(c, el, i) {
    const first = c.dataset.first === undefined || c.dataset.last !== undefined ? null : parseInt(c.dataset.first, 10);
    c.querySelectorAll(".w.sel").forEach(function (w) { w.classList.remove("sel"); });
    if (first === null || i < first) {
      c.dataset.first = String(i);
      delete c.dataset.last;
      el.classList.add("sel");
      c.querySelector(".selection").textContent = "from \u201c" + el.textContent + "\u201d: now click the last word";
      c.querySelector('button[data-act="add"]').disabled = true;
      return;
    }
    c.dataset.last = String(i);
    c.querySelectorAll(".w").forEach(function (w) {
      const n = parseInt(w.dataset.i, 10);
      if (n >= first && n <= i) w.classList.add("sel");
    });
    const t0 = parseFloat(c.querySelector('.w[data-i="' + first + '"]').dataset.t);
    c.querySelector(".selection").textContent = (i - first + 1) + " words from " + t0.toFixed(1) + " s";
    c.querySelector('button[data-act="add"]').disabled = false;
  }

  async function poll() {
    let data;
    try {
      const resp = await fetch("/api/status", { credentials: "same-origin" });
      data = await resp.json();
    } catch (e) {
      statusBox.textContent = "the editor server is not answering";
      return;
    }
    let text = data.state;
    if (data.state === "building") text = "building" + (data.task ? ": " + data.task : "");
    if (data.queued.length) text += " \u00b7 queued: " + data.queued.join(", ");
    if (data.read_only) text = "read-only: a run is in progress";
    statusBox.textContent = text;
    statusBox.dataset.state = data.state;
    logBox.textContent = data.log.join("\n");
    messages.replaceChildren();
    data.messages.slice().reverse().forEach(say);
    if (builds === null) builds = data.builds;
    if (data.state === "idle" && data.builds !== builds) {
      location.reload();  // the edited clip's card shows its new video, words and flags
    }
  }

  poll();
  setInterval(poll, 1000);
})();
