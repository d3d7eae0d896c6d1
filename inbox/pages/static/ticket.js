// The form customer's ticket page, live: it listens to its own stream (Server-Sent
// Events) and, when an answer reaches this customer, loads the page again in the
// background and shows the new transcript. Without script the page is the same; it is
// reloaded by hand.
(function () {
  "use strict";
  var page = document.getElementById("ticket-page");
  if (!page || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var loading = false, again = false;

  function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html");
        var body = fresh && fresh.getElementById("ticket-page");
        var current = document.getElementById("ticket-page");
        if (body && current) {
          current.replaceWith(document.importNode(body, true));
          document.title = fresh.title;
        }
      })
      .catch(function () { /* the next answer, or the next reconnection, tries again */ })
      .then(function () {
        loading = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource(page.getAttribute("data-live"));
  // On every (re)connection: what arrived while the page loaded or the stream was down.
  source.addEventListener("open", refresh);
  source.addEventListener("answer", refresh);
})();
