// Lifeline console: small progressive enhancement. Every page works
// without it; with it, the composer's counts and the broadcasts' progress
// update live. No inline script anywhere (the CSP forbids it).
"use strict";

(function () {
  function post(url, form) {
    return fetch(url, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  // The composer: character, encoding and segment counts per language,
  // and the audience's reach, as the person types or ticks.
  var compose = document.getElementById("compose");
  if (compose) {
    var timer = null;
    var refresh = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        post("/console/broadcasts/preview", compose).then(function (d) {
          Object.keys(d.counts || {}).forEach(function (lang) {
            var el = document.getElementById("count-" + lang);
            var ta = document.getElementById("text-" + lang);
            if (el && ta && ta.value.trim() !== "") { el.textContent = d.counts[lang]; }
          });
          var reach = document.getElementById("reach");
          if (reach) { reach.textContent = d.reach_text; }
        }).catch(function () { /* the page still works on submit */ });
      }, 250);
    };
    compose.addEventListener("input", refresh);
    compose.addEventListener("change", refresh);
    refresh();
  }

  // The broadcasts list: progress bars of unfinished broadcasts.
  var rows = document.querySelectorAll("tr.bc");
  rows.forEach(function (row) {
    var st = row.getAttribute("data-status");
    if (st !== "sending" && st !== "scheduled" && st !== "paused") { return; }
    var id = row.getAttribute("data-id");
    var tick = function () {
      fetch("/console/broadcasts/" + encodeURIComponent(id) + "/progress", { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (d) {
          var bar = row.querySelector("progress");
          if (bar) { bar.value = d.pct; bar.textContent = d.pct + "%"; }
          var nums = row.querySelector(".nums");
          if (nums) { nums.textContent = d.nums_text; }
          var cell = row.querySelector(".st");
          if (cell) { cell.textContent = d.status_text; }
          row.setAttribute("data-status", d.status);
          if (d.status === "sending" || d.status === "scheduled" || d.status === "paused") {
            setTimeout(tick, 1000);
          } else {
            var acts = row.querySelector(".acts");
            if (acts) { acts.textContent = ""; }
          }
        })
        .catch(function () { setTimeout(tick, 5000); });
    };
    setTimeout(tick, 500);
  });

  // The case queue: rows arrive as server-sent events, without a reload.
  var queue = document.getElementById("queue");
  if (queue && window.EventSource) {
    var labels = document.getElementById("queue-labels").content.firstElementChild;
    var cell = function (tr, text, cls) {
      var td = document.createElement("td");
      if (cls) { td.className = cls; }
      td.textContent = text;
      tr.appendChild(td);
      return td;
    };
    var es = new EventSource(queue.getAttribute("data-live"));
    es.addEventListener("queue", function (ev) {
      var rows = JSON.parse(ev.data) || [];
      var tbody = queue.tBodies[0];
      while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
      rows.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.className = "case" + (r.urgent ? " urgent" : "");
        tr.setAttribute("data-alias", r.alias);
        var th = document.createElement("th");
        th.scope = "row";
        var a = document.createElement("a");
        a.href = "/console/cases/" + encodeURIComponent(r.alias);
        a.textContent = r.alias;
        th.appendChild(a);
        tr.appendChild(th);
        var prio = cell(tr, "");
        if (r.urgent) {
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.setAttribute("aria-hidden", "true");
          badge.textContent = "!";
          prio.appendChild(badge);
          prio.appendChild(document.createTextNode(" "));
        }
        prio.appendChild(document.createTextNode(r.prio_text));
        cell(tr, r.reason);
        cell(tr, r.lang);
        cell(tr, r.channel);
        cell(tr, r.waiting, r.over ? "over" : "");
        cell(tr, r.coach);
        var act = cell(tr, "");
        if (r.open) {
          var f = document.createElement("form");
          f.method = "post";
          f.action = "/console/cases/" + encodeURIComponent(r.alias) + "/claim";
          var b = document.createElement("button");
          b.type = "submit";
          b.textContent = labels.getAttribute("data-claim");
          f.appendChild(b);
          act.appendChild(f);
        } else {
          var o = document.createElement("a");
          o.href = "/console/cases/" + encodeURIComponent(r.alias);
          o.textContent = labels.getAttribute("data-open");
          act.appendChild(o);
        }
        tbody.appendChild(tr);
      });
      var empty = document.getElementById("queue-empty");
      if (empty) { empty.hidden = rows.length > 0; }
    });
  }

  // A coach's reply to a person on SMS: its length and segments.
  var reply = document.getElementById("reply-form");
  if (reply) {
    var rtimer = null;
    reply.addEventListener("input", function () {
      clearTimeout(rtimer);
      rtimer = setTimeout(function () {
        post(reply.getAttribute("data-count"), reply).then(function (d) {
          var el = document.getElementById("reply-count");
          if (el) { el.textContent = d.count; }
        }).catch(function () {});
      }, 250);
    });
  }
})();
