/* siyu segment builder: preview the draft definition as the operator types.
   Debounced POST /api/v1/segments/preview with the signed-in token; shows the count and a sample, or the
   error with the field path the API names. Strings come from the page (data-strings), never from here. */
(function () {
  "use strict";

  var root = document.getElementById("builder");
  var area = document.getElementById("definition");
  if (!root || !area) return;
  var strings = JSON.parse(root.getAttribute("data-strings") || "{}");
  var tokenMeta = document.querySelector('meta[name="siyu-api-token"]');
  var token = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var el = {
    status: document.getElementById("preview-status"),
    count: document.getElementById("preview-count"),
    error: document.getElementById("preview-error"),
    field: document.getElementById("preview-field"),
    sample: document.getElementById("preview-sample"),
  };
  var DELAY_MS = 350;
  var timer = null;
  var inflight = null;
  var sequence = 0;

  function say(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function show(node, text) {
    node.textContent = text;
    node.hidden = false;
  }

  function reset() {
    [el.count, el.error, el.field, el.sample].forEach(function (node) {
      node.hidden = true;
      node.textContent = "";
    });
  }

  function failure(message, field) {
    reset();
    root.setAttribute("data-state", "error");
    el.status.textContent = "";
    show(el.error, message);
    if (field) show(el.field, say("error_field", { field: field }));
  }

  function success(body) {
    reset();
    root.setAttribute("data-state", "ok");
    el.count.setAttribute("data-count", String(body.count));
    show(el.count, say("preview_count", { count: Number(body.count).toLocaleString() }));
    el.status.textContent = say("preview_took", { ms: body.took_ms });
    if (!body.sample || body.sample.length === 0) {
      show(el.sample, say("preview_none"));
      return;
    }
    el.sample.textContent = say("preview_sample") + " ";
    body.sample.forEach(function (id, i) {
      var link = document.createElement("a");
      link.href = "/customers/" + encodeURIComponent(id);
      link.textContent = "#" + id;
      link.className = "sample-link";
      if (i > 0) el.sample.appendChild(document.createTextNode(" · "));
      el.sample.appendChild(link);
    });
    el.sample.hidden = false;
  }

  function preview() {
    var mine = ++sequence;
    var definition;
    try {
      definition = JSON.parse(area.value);
    } catch (err) {
      failure(say("preview_bad_json", { detail: err.message }), "definition");
      return;
    }
    if (inflight) inflight.abort();
    inflight = new AbortController();
    root.setAttribute("data-state", "loading");
    el.status.textContent = say("preview_waiting");
    fetch("/api/v1/segments/preview", {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ definition: definition, sample: 10 }),
      signal: inflight.signal,
      credentials: "omit",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .then(function (result) {
        if (mine !== sequence) return;
        if (result.status === 200) success(result.body);
        else if (result.status === 401) failure(say("preview_signed_out"), null);
        else failure(result.body.error || say("preview_failed"), result.body.field);
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") return;
        if (mine === sequence) failure(say("preview_failed"), null);
      });
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(preview, DELAY_MS);
  }

  area.addEventListener("input", schedule);
  Array.prototype.forEach.call(document.querySelectorAll("button.example"), function (button) {
    button.addEventListener("click", function () {
      area.value = button.getAttribute("data-definition");
      area.focus();
      preview();
    });
  });
  if (area.value.trim()) preview();
})();
