"""The page's script and style, kept as Python strings so the package needs no data files of its own. The script
is served from a URL (the console's Content-Security-Policy refuses inline scripts)."""

from __future__ import annotations

#: Long-polls the page's `events`; on a new version, swaps `#sandbox-live` for the `live` fragment, keeping the
#: parts tables the user opened. Without it (or without JavaScript) the page works: a reload shows the news.
SCRIPT = r"""(function () {
  "use strict";
  var root = document.querySelector("section.sandbox[data-events]");
  var live = document.getElementById("sandbox-live");
  if (!root || !live || !window.fetch) { return; }
  var version = root.getAttribute("data-version");
  var number = root.getAttribute("data-number");
  function pause(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }
  function opened() {
    return Array.prototype.map.call(live.querySelectorAll("li[data-id] > details[open]"),
      function (d) { return d.parentNode.getAttribute("data-id"); });
  }
  async function refresh() {
    var keep = opened();
    var query = number ? "?number=" + encodeURIComponent(number) : "";
    var answer = await fetch(root.getAttribute("data-live") + query, {credentials: "same-origin"});
    if (!answer.ok) { return; }
    live.innerHTML = await answer.text();
    if (!number && live.querySelector(".phones-and-chat")) { window.location.reload(); return; }
    keep.forEach(function (id) {
      var found = live.querySelector('li[data-id="' + id + '"] > details');
      if (found) { found.open = true; }
    });
  }
  async function watch() {
    for (;;) {
      try {
        var answer = await fetch(root.getAttribute("data-events") + "?since=" + encodeURIComponent(version),
                                 {credentials: "same-origin", headers: {"Accept": "application/json"}});
        if (!answer.ok) { await pause(3000); continue; }
        var data = await answer.json();
        if (String(data.version) !== String(version)) {
          version = String(data.version);
          await refresh();
        }
      } catch (error) {
        await pause(3000);
      }
    }
  }
  watch();
})();
"""

#: Enough to read the page on its own; inside the console, its stylesheet can restyle the same classes.
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7fb; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
.sandbox .lead { color: #5b6475; }
.sandbox .flash.error { background: #fdecec; color: #8a1c1c; padding: .5rem .75rem; border-radius: 6px; }
.phones-and-chat { display: grid; grid-template-columns: minmax(14rem, 1fr) 3fr; gap: 1rem; }
@media (max-width: 700px) { .phones-and-chat { grid-template-columns: 1fr; } }
.phones ul { list-style: none; margin: 0; padding: 0; }
.phones a { display: block; padding: .5rem .75rem; border-radius: 8px; color: inherit; text-decoration: none;
            background: #fff; margin-bottom: .4rem; border: 1px solid #e3e6ee; }
.phones a.active { border-color: #3b6fe0; box-shadow: 0 0 0 1px #3b6fe0; }
.phones small { color: #5b6475; display: block; }
.phones span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: #3a4252; }
.messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .6rem; }
.messages li { max-width: 85%; padding: .55rem .8rem; border-radius: 14px; }
.messages li.mt { align-self: flex-start; background: #fff; border: 1px solid #e3e6ee; }
.messages li.mt.failed { border-color: #d9534f; }
.messages li.mo { align-self: flex-end; background: #3b6fe0; color: #fff; }
.messages .text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.messages .meta { margin: .25rem 0 0; font-size: .8rem; opacity: .75; }
.messages details { font-size: .8rem; margin-top: .3rem; }
.messages table { border-collapse: collapse; margin-top: .3rem; }
.messages td, .messages th { border-top: 1px solid #e3e6ee; padding: .2rem .4rem; text-align: left;
                             vertical-align: top; }
.sandbox-actions { display: grid; gap: .75rem; margin-top: 1rem; }
.sandbox-actions form { background: #fff; border: 1px solid #e3e6ee; border-radius: 8px; padding: .75rem; }
.sandbox-actions label { display: block; margin: .2rem 0; }
.sandbox-actions textarea { width: 100%; box-sizing: border-box; }
.sandbox-actions button { margin-top: .4rem; }
.sandbox-actions button.danger { color: #8a1c1c; }
.empty { background: #fff; border: 1px dashed #c9cfdb; border-radius: 8px; padding: 1rem 1.25rem; }
"""
