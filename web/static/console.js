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
})();
