// lambdad console: the few interactive parts (region picker, test events, live logs).
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";

  async function post(url, doc) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(doc),
    });
    let body = {};
    try { body = await res.json(); } catch (e) { body = { error: "HTTP " + res.status }; }
    if (!res.ok && !body.error) body.error = "HTTP " + res.status;
    return body;
  }

  const region = document.querySelector("select[data-autosubmit]");
  if (region) region.addEventListener("change", () => region.form.submit());

  const test = document.getElementById("test");
  if (test) {
    const $ = (id) => document.getElementById(id);
    let saved = JSON.parse(test.dataset.saved || "{}");
    const status = (text) => { $("status").textContent = text; };
    const fill = (events) => {
      saved = {};
      const select = $("saved");
      const keep = select.value;
      select.length = 1;
      for (const ev of events) {
        saved[ev.name] = ev.payload;
        select.add(new Option(ev.name, ev.name));
      }
      select.value = saved[keep] !== undefined ? keep : "";
    };
    $("saved").addEventListener("change", (ev) => {
      const name = ev.target.value;
      if (name && saved[name] !== undefined) {
        $("payload").value = saved[name];
        $("event-name").value = name;
      }
    });
    $("invoke").addEventListener("click", async () => {
      status("Invoking…");
      $("invoke").disabled = true;
      try {
        const out = await post(test.dataset.invoke,
          { payload: $("payload").value, qualifier: $("qualifier").value });
        $("result").hidden = false;
        if (out.error) {
          $("outcome").textContent = "failed";
          $("outcome").className = "fail";
          $("response").textContent = out.error;
          $("report").textContent = "";
          $("log").textContent = "";
        } else {
          const failed = !!out.functionError;
          $("outcome").textContent = failed ? "failed (" + out.functionError + ")" : "succeeded";
          $("outcome").className = failed ? "fail" : "ok";
          let text = out.payload;
          try { text = JSON.stringify(JSON.parse(out.payload), null, 2); } catch (e) { /* as is */ }
          $("response").textContent = text;
          $("report").textContent = out.report || "";
          $("log").textContent = out.log || "";
        }
        status("");
      } finally {
        $("invoke").disabled = false;
      }
    });
    $("save").addEventListener("click", async () => {
      const name = $("event-name").value.trim();
      if (!name) { status("Name the event first."); return; }
      const out = await post(test.dataset.events, { name: name, payload: $("payload").value });
      if (out.error) { status(out.error); return; }
      fill(out.events);
      $("saved").value = name;
      status("Saved " + name + ".");
    });
    $("delete").addEventListener("click", async () => {
      const name = $("saved").value || $("event-name").value.trim();
      if (!name) { status("Pick a saved event."); return; }
      const out = await post(test.dataset.events, { name: name, delete: true });
      if (out.error) { status(out.error); return; }
      fill(out.events);
      status("Deleted " + name + ".");
    });
  }

  const logs = document.getElementById("logs");
  if (logs) {
    const rows = document.getElementById("log-rows");
    const seen = new Set(Array.from(rows.querySelectorAll("tr")).map((tr) => tr.dataset.id));
    let since = Number(logs.dataset.since || 0);
    const follow = document.getElementById("follow");
    const state = document.getElementById("log-status");
    async function poll() {
      if (follow.checked) {
        try {
          const res = await fetch(logs.dataset.poll + "&since=" + since, { credentials: "same-origin" });
          if (res.status === 401) { window.location = "/console/signin"; return; }
          const out = await res.json();
          for (const ev of out.events || []) {
            since = Math.max(since, ev.timestamp || 0);
            if (seen.has(ev.id)) continue;
            seen.add(ev.id);
            const tr = document.createElement("tr");
            tr.dataset.id = ev.id;
            if (/^(REPORT|START|END) /.test(ev.message)) tr.className = "report";
            const ts = document.createElement("td");
            ts.className = "ts";
            ts.textContent = ev.time;
            const msg = document.createElement("td");
            const pre = document.createElement("pre");
            pre.textContent = ev.message;
            msg.appendChild(pre);
            tr.append(ts, msg);
            rows.appendChild(tr);
            document.getElementById("no-logs").hidden = true;
          }
          state.textContent = "updated " + new Date().toLocaleTimeString();
        } catch (e) {
          state.textContent = "waiting for the server…";
        }
      }
      setTimeout(poll, 2000);
    }
    setTimeout(poll, 1000);
  }
})();
