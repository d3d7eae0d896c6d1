// The agent desk. The server renders the queue and the conversation (Jinja2, escaped);
// this script swaps those parts in when something changes and sends the agent's actions
// to the agent API with the session's CSRF token. It never builds HTML from strings:
// the parts are parsed as documents (their scripts inert; the CSP allows no inline
// script anyway) and moved in. A mail's sanitised HTML sits in an iframe with an empty
// `sandbox` attribute (no script, no forms, no navigation, its own origin).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var CSRF = $("desk").getAttribute("data-csrf");
  var current = null;
  var seen = 0;  // the newest message id on screen: answers are held if newer ones arrive
  var mine = {};  // ids of the answers sent from this page

  function say(text) { $("status").textContent = text; }

  function signIn() {
    window.location.assign("/login?next=" + encodeURIComponent("/agent" + window.location.hash));
  }

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      if (r.status === 401) { signIn(); throw new Error("Please sign in again."); }
      if (r.status === 204) { return null; }
      if (!r.ok) {
        return r.json().then(function (e) { throw new Error(e.error || r.statusText); });
      }
      return r.json();
    });
  }

  // Fetches a server-rendered part and puts its nodes into `target`; `keep` lists the ids
  // of fields whose typed text survives the swap.
  function swap(path, target, keep) {
    return fetch(path, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected || r.status === 401) { signIn(); throw new Error("Please sign in again."); }
      return r.text().then(function (html) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        var typed = (keep || []).map(function (id) { return $(id) ? $(id).value : ""; });
        target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
        (keep || []).forEach(function (id, i) { if ($(id) && typed[i]) { $(id).value = typed[i]; } });
        return r.ok;
      });
    });
  }

  function refresh() { return swap("/agent/queue", $("queue")); }

  // For live events: at most one queue refresh a second; events during one lead to one
  // more after it, so the queue ends up current without a request per event.
  var refreshing = false;
  var refreshAgain = false;
  function refreshSoon() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    refresh().catch(function (err) { say(err.message); }).then(function () {
      setTimeout(function () {
        refreshing = false;
        if (refreshAgain) { refreshAgain = false; refreshSoon(); }
      }, 1000);
    });
  }

  function open(ref) {
    var keep = String(ref) === String(current) ? ["reply-text", "note-text"] : [];
    return swap("/agent/conversations/" + ref, $("conversation"), keep).then(function (found) {
      $("conversation").hidden = false;
      if (!found) { current = null; return; }
      current = Number(ref);
      seen = Number($("messages").getAttribute("data-seen"));
    }).catch(function (err) { say(err.message); });
  }

  function download(button) {
    var path = "/api/conversations/" + current + "/attachments/" + button.getAttribute("data-file");
    fetch(path, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("The file could not be downloaded (" + r.status + ")."); }
      return r.blob();
    }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.getAttribute("data-name");
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }).catch(function (err) { say(err.message); });
  }

  // An agent's answer becomes a draft article (the customer's question before it is its
  // example question), opened in the knowledge base's editor.
  function makeDraft(button) {
    var body = { message: Number(button.getAttribute("data-message")) };
    act("/kb-draft", body, function (draft) {
      window.location.assign("/agent/kb/" + encodeURIComponent(draft.id) + "?done=drafted");
    });
  }

  // "Try again" on an answer that was not delivered: it is queued again at once, and the
  // page follows it (a second a look, for a minute at most) until it is sent or fails.
  var retrying = {};  // message id -> true while its new try is under way
  var watching = false;

  function deliveries() {
    var shown = {};
    document.querySelectorAll("#messages li[data-delivery]").forEach(function (li) {
      shown[li.getAttribute("data-message")] = li.getAttribute("data-delivery");
    });
    return shown;
  }

  // Messages on the server the agent has not seen: while there are any, the page is not
  // re-rendered by itself (that would move `seen` past them and let an answer through).
  function unseen(c) {
    return c.messages.filter(function (m) {
      return m.id > seen && !m.internal && m.author !== "bot" && !mine[m.id];
    });
  }

  function watchRetries(ref, looks) {
    if (watching) { return; }
    watching = true;
    (function look(left) {
      var ids = Object.keys(retrying);
      if (!ids.length || current !== ref || left <= 0) { watching = false; return; }
      api("GET", "/api/conversations/" + ref).then(function (c) {
        var settled = c.messages.filter(function (m) {
          return retrying[m.id] && (m.delivery === "sent" || m.delivery === "failed");
        });
        if (!settled.length) { return null; }
        settled.forEach(function (m) { delete retrying[m.id]; });
        var failed = settled.filter(function (m) { return m.delivery === "failed"; });
        var words = failed.length ? "Not delivered again: " + failed[0].delivery_error : "Delivered.";
        if (unseen(c).length) { say(words); return null; }
        return open(ref).then(function () { say(words); });
      }).catch(function (err) { say(err.message); }).then(function () {
        setTimeout(function () { look(left - 1); }, 1000);
      });
    }(looks));
  }

  function retryDelivery(button) {
    var id = Number(button.getAttribute("data-message"));
    button.disabled = true;
    var ref = current;
    api("POST", "/api/conversations/" + ref + "/retry", { message: id }).then(function () {
      retrying[id] = true;
      return api("GET", "/api/conversations/" + ref);
    }).then(function (c) {
      return (unseen(c).length ? Promise.resolve() : open(ref)).then(function () {
        say("Sending again…");
        watchRetries(ref, 60);
      });
    }).catch(function (err) {
      say(err.message);
      return open(ref);
    });
  }

  function changed(text) {
    $("changed").textContent = text;
    $("changed").hidden = false;
  }

  function act(path, body, done) {
    return api("POST", "/api/conversations/" + current + path, body).then(done)
      .catch(function (err) { say(err.message); });
  }

  var forms = {
    reply: function () {
      var via = $("reply-via"), chosen = via.options[via.selectedIndex];
      var body = { text: $("reply-text").value, seen: seen, channel: via.value || undefined,
                   address: chosen ? chosen.getAttribute("data-address") : undefined };
      api("POST", "/api/conversations/" + current + "/reply", body).then(function (sent) {
        mine[sent.message_id] = true;
        $("reply-text").value = "";
        return open(current).then(function () { say("Answer queued for delivery."); });
      }).catch(function (err) {
        say(err.message);
        if (/^not sent/.test(err.message)) {  // held: show what arrived, keep the draft
          open(current).then(function () { changed(err.message); });
        }
      });
    },
    note: function () {
      act("/notes", { text: $("note-text").value }, function () {
        $("note-text").value = "";
        return open(current).then(function () { say("Note added."); });
      });
    },
    assign: function () {
      var name = $("assign-to").value || null;
      act("/assign", { agent: name }, function () {
        say(name ? "Assigned to " + name + "." : "Unassigned.");
        return open(current);
      });
    },
    reassign: function () {
      var team = $("reassign-team").value;
      act("/reassign", { team: team }, function () {
        say("Moved to " + team + "; the router learnt from it.");
        return refresh().then(route);
      });
    }
  };

  function automatic(on) {
    act("/automatic", { on: on }, function () {
      return open(current).then(function () {
        say(on ? "Automatic messages are on again." : "Automatic messages stopped for this customer.");
      });
    });
  }

  var buttons = {
    resolve: function () {
      act("/resolve", undefined, function () { return refresh().then(function () { return open(current); }); });
    },
    confirm: function () {
      act("/confirm", undefined, function (r) {
        say("Thank you: the router learnt that this is for " + r.team + ".");
      });
    },
    "automatic-on": function () { automatic(true); },
    "automatic-off": function () { automatic(false); },
    merge: function (button) {
      var into = Number(button.getAttribute("data-into"));
      act("/merge", { into: into }, function () {
        return refresh().then(function () { window.location.hash = "#" + into; });
      });
    }
  };

  $("conversation").addEventListener("submit", function (event) {
    var handler = forms[event.target.id];
    if (handler) { event.preventDefault(); handler(); }
  });
  $("conversation").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    if (buttons[button.id]) { buttons[button.id](button); }
    else if (button.classList.contains("file")) { download(button); }
    else if (button.classList.contains("make-draft")) { makeDraft(button); }
    else if (button.classList.contains("retry-delivery")) { retryDelivery(button); }
  });
  $("conversation").addEventListener("change", function (event) {
    if (event.target.id !== "canned") { return; }
    var chosen = event.target.selectedOptions[0];
    if (chosen && chosen.value !== "") {
      $("reply-text").value = chosen.getAttribute("data-text");
      $("reply-text").focus();
    }
  });
  $("take-next").addEventListener("click", function () {
    api("POST", "/api/conversations/next").then(function (c) {
      if (!c) { say("Nothing is waiting in your teams' queues."); return null; }
      return refresh().then(function () { window.location.hash = "#" + c.reference; });
    }).catch(function (err) { say(err.message); });
  });

  function route() {
    say("");
    var ref = window.location.hash.replace("#", "");
    if (/^\d+$/.test(ref)) { return open(ref); }
    $("conversation").hidden = true;
    current = null;
    return null;
  }

  // Live: the queue follows changes in my teams; an open conversation that got a message
  // from someone else says so (the answer box keeps what is typed).
  function listen() {
    var source = new EventSource("/live");
    source.addEventListener("conversation", function (event) {
      var data = JSON.parse(event.data);
      refreshSoon();
      if (current === null || data.reference !== current) { return; }
      api("GET", "/api/conversations/" + current).then(function (c) {
        var arrived = unseen(c);
        if (arrived.length) {
          changed(arrived.length + " new message(s) since you opened this conversation: " +
            "reload it before you answer.");
        }
        var shown = deliveries();
        var moved = c.messages.some(function (m) {
          return shown[m.id] !== undefined && m.delivery !== shown[m.id];
        });
        if (moved && !arrived.length) { return open(current); }  // a delivery changed state
        return null;
      }).catch(function (err) { say(err.message); });
    });
    source.addEventListener("reload", function () { window.location.reload(); });
  }

  window.addEventListener("hashchange", route);
  route();
  listen();
}());
