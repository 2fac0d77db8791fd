/* The process page: draw the process with bpmn.io's viewer, colour each node by its task state in
   the run (polling the JSON twin until the run ends), and show a clicked node in the side panel.
   Without a run: the preview, from the root entity picked, each node's entity count as a badge
   (bpmn-js overlays) and its entities in the panel.
   Data is always put in the page as text (textContent), never as HTML. */
(function () {
  "use strict";
  var view = JSON.parse(document.getElementById("wecube-view").textContent);
  var panel = document.getElementById("panel");
  var byElement = {};
  Object.keys(view.nodes).forEach(function (id) { byElement[view.nodes[id].element_id] = view.nodes[id]; });
  var STATES = ["none", "scheduled", "queued", "running", "awaiting_input", "deferred", "up_for_retry",
                "success", "failed", "upstream_failed", "skipped"];
  var viewer = new BpmnJS({ container: "#canvas" });
  var canvas = null, current = {}, selected = null, POLL_MS = 2000, preview = null;
  window.wecubeProcessView = { ready: false, states: current, viewer: viewer };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(table, key, value, href) {
    var tr = el("tr"), td = el("td");
    tr.appendChild(el("td", key));
    if (href) { var a = el("a", value); a.href = href; a.target = "_top"; td.appendChild(a); }
    else td.textContent = value === undefined || value === null || value === "" ? "-" : String(value);
    tr.appendChild(td); table.appendChild(tr);
  }
  function pre(value) { return el("pre", JSON.stringify(value, null, 1)); }

  function paint(nodes) {
    Object.keys(view.nodes).forEach(function (id) {
      var n = view.nodes[id], state = (nodes[id] && nodes[id].state) || "none";
      if (STATES.indexOf(state) < 0) state = "none";
      if (current[id] === state) return;
      if (current[id]) canvas.removeMarker(n.element_id, "st-" + current[id]);
      try { canvas.addMarker(n.element_id, "st-" + state); current[id] = state; } catch (e) { /* not drawn */ }
    });
  }

  function poll() {
    fetch(view.run_url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      view.run = data;
      paint(data.nodes);
      var chip = document.getElementById("run-state");
      if (chip) chip.textContent = data.run.state;
      if (selected) showNode(selected, true);
      if (!data.run.finished) setTimeout(poll, POLL_MS);
    }).catch(function () { setTimeout(poll, POLL_MS * 3); });
  }

  function showDefinition(n) {
    panel.textContent = "";
    panel.appendChild(el("h3", n.name || n.id));
    var t = el("table", null, "kv");
    row(t, "node", n.id); row(t, "type", n.type); row(t, "task", n.task_id);
    row(t, "service", n.service ? n.service + (n.service_version ? "@" + n.service_version : "") : "");
    row(t, "entities", n.routine_expression);
    if (n.note) row(t, "note", n.note);
    panel.appendChild(t);
    if (!preview) return;
    var p = preview.nodes[n.id];
    if (p) panel.appendChild(entityList("Preview: " + p.count + " entit" + (p.count === 1 ? "y" : "ies") + " from " +
                                        (preview.root.displayName || preview.root.id), p.entities, "preview-entities"));
    else if (preview.at_run.indexOf(n.id) >= 0) panel.appendChild(el("p", "Preview: its entities are evaluated when the node runs.", "muted preview-at-run"));
  }

  /* ---- preview: candidates, badges, panel ---- */
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (r.ok) return d;
        var why = typeof d.detail === "string" ? d.detail : JSON.stringify(d.detail || "");
        throw new Error("HTTP " + r.status + (why ? ": " + why : ""));
      });
    });
  }
  function previewStatus(text, isError) {
    var s = document.getElementById("preview-status");
    s.textContent = text; s.className = isError ? "preview-error" : "muted";
  }
  function badges() {
    if (!canvas) return;
    var overlays = viewer.get("overlays");
    overlays.remove({ type: "wecube-preview" });
    if (!preview) return;
    function badge(id, text, title, cls) {
      var n = view.nodes[id];
      if (!n) return;
      var b = el("span", text, "preview-badge" + (cls ? " " + cls : ""));
      b.title = title; b.setAttribute("data-node", id);
      try { overlays.add(n.element_id, "wecube-preview", { position: { top: -10, right: 12 }, html: b }); } catch (e) { /* not drawn */ }
    }
    Object.keys(preview.nodes).forEach(function (id) {
      var c = preview.nodes[id].count;
      badge(id, String(c), c + " entit" + (c === 1 ? "y" : "ies"));
    });
    preview.at_run.forEach(function (id) { badge(id, "at run", "its entities are evaluated when the node runs", "at-run"); });
  }
  function pickRoot(id) {
    preview = null; badges();
    document.body.setAttribute("data-preview", "loading");
    if (!id) { previewStatus(""); document.body.removeAttribute("data-preview"); if (selected) showDefinition(selected); return; }
    previewStatus("reading the CMDB...");
    getJSON(view.preview_url + "&root=" + encodeURIComponent(id)).then(function (d) {
      if (document.getElementById("preview-root").value !== id) return;
      preview = d; badges();
      var n = Object.keys(d.nodes).length;
      previewStatus(n + " node" + (n === 1 ? "" : "s") + " bound from " + (d.root.displayName || d.root.id) +
                    (d.at_run.length ? ", " + d.at_run.length + " bound when they run" : ""));
      if (selected) showDefinition(selected);
      document.body.setAttribute("data-preview", "ready");
    }).catch(function (e) {
      previewStatus("no preview: " + e.message, true);
      document.body.setAttribute("data-preview", "error");
    });
  }
  function loadCandidates() {  /* on a click only: opening the page does not read the CMDB */
    var select = document.getElementById("preview-root"), button = document.getElementById("preview-load");
    button.disabled = true;
    select.hidden = false; select.previousElementSibling.hidden = false;
    previewStatus("reading the CMDB...");
    getJSON(view.preview_url).then(function (d) {
      button.hidden = true; previewStatus("");
      select.textContent = "";
      var first = el("option", d.candidates.length ? "pick a root entity" : "no " + d.root_entity + " in the CMDB");
      first.value = ""; select.appendChild(first);
      d.candidates.forEach(function (c) {
        var o = el("option", (c.displayName || c.id) + (c.displayName && c.displayName !== c.id ? " (" + c.id + ")" : ""));
        o.value = c.id; select.appendChild(o);
      });
      if (d.total > d.candidates.length) previewStatus("first " + d.candidates.length + " of " + d.total);
      select.disabled = false;
      document.body.setAttribute("data-candidates", "ready");
    }).catch(function (e) {
      select.textContent = ""; select.appendChild(el("option", "no candidates"));
      button.disabled = false; button.textContent = "Try again";
      previewStatus("cannot list the root entities: " + e.message, true);
      document.body.setAttribute("data-candidates", "error");
    });
  }

  function entityList(title, rows, cls) {
    var box = el("div", null, "entities" + (cls ? " " + cls : ""));
    box.appendChild(el("h3", title));
    if (rows === null || rows === undefined) { box.appendChild(el("p", "not recorded", "muted not-recorded")); return box; }
    if (!rows.length) { box.appendChild(el("p", "none", "muted")); return box; }
    var ul = el("ul");
    rows.forEach(function (e) { ul.appendChild(el("li", (e.displayName || e.id) + (e.displayName ? " (" + e.id + ")" : ""))); });
    box.appendChild(ul);
    return box;
  }

  function showNode(n, refresh) {
    selected = n;
    if (!view.run_id) { showDefinition(n); return; }
    fetch(view.node_url.replace("{node}", encodeURIComponent(n.id)), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (d) {
        if (selected !== n) return;
        panel.textContent = "";
        panel.appendChild(el("h3", n.name || n.id));
        var t = el("table", null, "kv");
        row(t, "node", n.id + " (" + n.type + ")");
        row(t, "state", d.state || "not started");
        row(t, "service", d.node.service);
        row(t, "log", "task log", d.log_url);
        panel.appendChild(t);
        var bound = d.record ? d.record.entities : d.bound;
        panel.appendChild(entityList("Entities", bound));
        var calls = el("div", null, "calls");
        calls.appendChild(el("h3", "Calls"));
        if (!d.record) calls.appendChild(el("p", "not recorded", "muted not-recorded"));
        else if (!d.record.calls.length) calls.appendChild(el("p", "none", "muted"));
        else d.record.calls.forEach(function (c) {
          calls.appendChild(el("h4", c.callbackParameter || "call"));
          calls.appendChild(el("div", "request", "muted")); calls.appendChild(pre(c.inputs || {}));
          calls.appendChild(el("div", "answer" + (c.errorCode && c.errorCode !== "0" ? " (error " + c.errorCode + ")" : ""), "muted"));
          calls.appendChild(pre(c.output || { errorMessage: c.errorMessage }));
        });
        panel.appendChild(calls);
        if (n.type === "human") {
          var inbox = el("div", null, "inbox");
          inbox.appendChild(el("h3", "Inbox"));
          if (!d.inbox.length) inbox.appendChild(el("p", "not recorded", "muted not-recorded"));
          d.inbox.forEach(function (i) {
            var it = el("table", null, "kv");
            row(it, "asks", i.subject); row(it, "options", (i.options || []).join(", "));
            row(it, "answer", i.answered ? (i.chosen || []).join(", ") : "waiting");
            row(it, "answer it", "Required actions", i.required_actions_url);
            inbox.appendChild(it);
          });
          panel.appendChild(inbox);
        }
      }).catch(function (e) { if (!refresh) { panel.textContent = ""; panel.appendChild(el("p", "could not load the node: " + e.message, "error")); } });
  }

  fetch(view.diagram_url, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      canvas = viewer.get("canvas");
      canvas.zoom("fit-viewport", "auto");
      viewer.get("eventBus").on("element.click", function (e) {
        var n = byElement[e.element.id] || (e.element.businessObject && byElement[e.element.businessObject.id]);
        if (!n) return;
        if (selected) { try { canvas.removeMarker(selected.element_id, "selected-node"); } catch (x) {} }
        canvas.addMarker(n.element_id, "selected-node");
        showNode(n, false);
      });
      if (view.run) paint(view.run.nodes);
      badges();
      document.body.setAttribute("data-drawn", "true");
      window.wecubeProcessView.ready = true;
      window.wecubeProcessView.readyAt = performance.now();
      if (view.run && !view.run.run.finished) setTimeout(poll, POLL_MS);
    })
    .catch(function (e) {
      var p = document.getElementById("drawing-error");
      p.hidden = false; p.textContent = "The drawing could not be shown: " + e.message;
      document.body.setAttribute("data-drawn", "error");
    });
  if (!view.run_id && view.preview_url) {
    var select = document.getElementById("preview-root");
    select.addEventListener("change", function () { pickRoot(select.value); });
    document.getElementById("preview-load").addEventListener("click", loadCandidates);
  }
})();
