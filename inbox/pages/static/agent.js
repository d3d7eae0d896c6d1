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

  // A short message at the foot of the page, gone after a while.
  var sayTimer = null;
  function say(text) {
    $("status").textContent = text;
    clearTimeout(sayTimer);
    if (text) { sayTimer = setTimeout(function () { $("status").textContent = ""; }, 8000); }
  }

  function signIn() {
    window.location.assign("/login?next=" + encodeURIComponent("/agent" + window.location.hash));
  }

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
    if (body instanceof FormData) {
      init.body = body;  // the browser writes the multipart Content-Type and boundary
    } else if (body !== undefined) {
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
  // of fields whose typed text survives the swap; `fresh`, when given, says whether the
  // part is still wanted when it arrives (a newer request may have overtaken it).
  function swap(path, target, keep, fresh) {
    return fetch(path, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected || r.status === 401) { signIn(); throw new Error("Please sign in again."); }
      return r.text().then(function (html) {
        if (fresh && !fresh()) { return r.ok; }
        var parsed = new DOMParser().parseFromString(html, "text/html");
        var typed = (keep || []).map(function (id) { return $(id) ? $(id).value : ""; });
        target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
        (keep || []).forEach(function (id, i) { if ($(id) && typed[i]) { $(id).value = typed[i]; } });
        return r.ok;
      });
    });
  }

  // The left and middle panes: the chosen view (kept in the address's query) and page.
  function listPath() {
    var list = $("list");
    var view = list ? list.getAttribute("data-view") : "all";
    var offset = list ? list.getAttribute("data-offset") : "0";
    var search = list ? list.getAttribute("data-search") : "";  // searching: its results
    if (search) { return "/agent/search?" + search + "&offset=" + encodeURIComponent(offset); }
    return "/agent/queue?view=" + encodeURIComponent(view) + "&offset=" + encodeURIComponent(offset);
  }

  var listAsked = 0;  // the newest request for the lists: an older answer is dropped
  function refresh() {
    var asked = ++listAsked;
    return swap(listPath(), $("lists"), [], function () { return asked === listAsked; }).then(function () {
      markCurrent();
      attention();
    });
  }

  function chooseView(view, offset) {
    $("list").removeAttribute("data-search");
    $("list").setAttribute("data-view", view);
    $("list").setAttribute("data-offset", offset || "0");
    var query = "?view=" + encodeURIComponent(view) + (offset && offset !== "0" ? "&offset=" + offset : "");
    window.history.replaceState(null, "", query + window.location.hash);
    return refresh();
  }

  function markCurrent() {
    document.querySelectorAll("#queue li").forEach(function (li) {
      li.classList.toggle("current", String(li.getAttribute("data-reference")) === String(current));
    });
  }

  // Times are written in UTC by the server; shown in the agent's own time zone here.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var when = new Date(t.getAttribute("datetime"));
      if (!isNaN(when)) {
        t.title = t.textContent;
        t.textContent = when.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
      }
    });
  }

  // Drafts survive a reload: what is typed is kept in this browser per conversation.
  function draftKey(id) { return "inbox-draft:" + current + ":" + id; }
  function restoreDrafts() {
    ["reply-text", "note-text"].forEach(function (id) {
      var kept = window.localStorage.getItem(draftKey(id));
      if ($(id) && kept && !$(id).value) { $(id).value = kept; }
    });
  }
  function keepDraft(id) {
    if (current === null || !$(id)) { return; }
    if ($(id).value) { window.localStorage.setItem(draftKey(id), $(id).value); }
    else { window.localStorage.removeItem(draftKey(id)); }
  }
  function clearDraft(id) { $(id).value = ""; keepDraft(id); }

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
    var files = String(ref) === String(current) ? chosenFiles() : null;
    return swap("/agent/conversations/" + ref, $("conversation"), keep).then(function (found) {
      $("conversation").hidden = false;
      $("placeholder").hidden = true;
      if (!found) { current = null; return; }
      var first = String(ref) !== String(current);
      current = Number(ref);
      seen = Number($("messages").getAttribute("data-seen"));
      localTimes($("conversation"));
      restoreDrafts();
      restoreFiles(files);
      markCurrent();
      if (first) {
        var last = $("messages").lastElementChild;
        if (last) { last.scrollIntoView({ block: "nearest" }); }
        refreshSoon();  // opened: its unread mark goes
      }
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

  // The answer's fields as a form with the chosen files, when there are any; else as is.
  function withFiles(body) {
    var input = $("reply-files");
    if (!input || !input.files.length) { return body; }
    var form = new FormData();
    Object.keys(body).forEach(function (key) {
      if (body[key] !== undefined && body[key] !== null) { form.append(key, String(body[key])); }
    });
    Array.prototype.forEach.call(input.files, function (file) { form.append("files", file, file.name); });
    return form;
  }

  function fileSize(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    if (bytes >= 1024) { return Math.round(bytes / 1024) + " KB"; }
    return bytes + " bytes";
  }

  // Names and sizes of the chosen files beside the input, and what is over the limits.
  function listReplyFiles() {
    var input = $("reply-files"), list = $("reply-file-list");
    if (!input || !list) { return; }
    var most = Number(input.getAttribute("data-max-bytes"));
    list.textContent = Array.prototype.map.call(input.files, function (file) {
      return file.name + " (" + fileSize(file.size) + (file.size > most ? ", too large" : "") + ")";
    }).join(", ");
  }

  // The files chosen for the answer survive the conversation being drawn again (a live
  // change); they are not drafts: a reload forgets them, as browsers do.
  function chosenFiles() {
    var input = $("reply-files");
    return input && input.files.length ? input.files : null;
  }

  function restoreFiles(files) {
    if (files && $("reply-files")) { $("reply-files").files = files; listReplyFiles(); }
  }

  // Why the chosen files cannot go (the server's words), before uploading them for nothing.
  function filesRefused() {
    var input = $("reply-files");
    if (!input) { return ""; }
    var most = Number(input.getAttribute("data-max-bytes")), count = Number(input.getAttribute("data-max-count"));
    var big = Array.prototype.filter.call(input.files, function (file) { return file.size > most; })[0];
    if (big) { return big.name + " is too large: each file may be at most " + input.getAttribute("data-limit") + "."; }
    if (input.files.length > count) { return "too many files: at most " + count + " on one answer."; }
    return "";
  }

  var forms = {
    reply: function () {
      if (filesRefused()) { say(filesRefused()); return; }
      var via = $("reply-via"), chosen = via.options[via.selectedIndex];
      var body = { text: $("reply-text").value, seen: seen, channel: via.value || undefined,
                   address: chosen ? chosen.getAttribute("data-address") : undefined };
      api("POST", "/api/conversations/" + current + "/reply", withFiles(body)).then(function (sent) {
        mine[sent.message_id] = true;
        clearDraft("reply-text");
        if ($("reply-files")) { $("reply-files").value = ""; }  // sent with the answer
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
        clearDraft("note-text");
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
    "customer-edit": function () {
      var body = { name: $("customer-name").value, notes: $("customer-notes").value };
      act("/customer", body, function () {
        return open(current).then(function () { say("Customer saved."); refreshSoon(); });
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
  $("conversation").addEventListener("input", function (event) {
    if (event.target.id === "reply-text" || event.target.id === "note-text") { keepDraft(event.target.id); }
  });
  $("lists").addEventListener("click", function (event) {
    var link = event.target.closest("a[data-view]");
    if (!link) { return; }
    event.preventDefault();
    chooseView(link.getAttribute("data-view"), link.getAttribute("data-offset") || "0");
  });
  $("conversation").addEventListener("change", function (event) {
    if (event.target.id === "reply-files") { listReplyFiles(); }
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
    $("placeholder").hidden = false;
    current = null;
    markCurrent();
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
    // An SLA warning or breach on a conversation of mine (or nobody's): a notification.
    source.addEventListener("sla", function (event) {
      var data = JSON.parse(event.data);
      refreshSoon();
      if (!notificationsOn() || !data.reference) { return; }
      api("GET", "/api/conversations/" + data.reference).then(function (c) {
        var me = $("me").getAttribute("data-name");
        if (c.assignee && c.assignee !== me) { return; }
        notify("SLA " + (data.kind || "warning") + ": " + (data.ticket || "#" + data.reference),
          c.subject || "", data.reference);
      }).catch(function () { return null; });
    });
  }

  // Attention: the page's title counts my conversations with unread customer messages;
  // with notifications turned on (this browser, opt-in), a new one raises a notification.
  var unreadBefore = null;
  function notificationsOn() {
    return "Notification" in window && Notification.permission === "granted" &&
      window.localStorage.getItem("inbox-notify") === "on";
  }
  function notify(title, body, ref) {
    if (!notificationsOn()) { return; }
    var note = new Notification(title, { body: body, tag: "inbox-" + ref });
    note.onclick = function () { window.focus(); window.location.hash = "#" + ref; };
  }
  function attention() {
    var unread = Number($("views").getAttribute("data-unread") || "0");
    document.title = (unread ? "(" + unread + ") " : "") + "Desk";
    if (unreadBefore !== null && unread > unreadBefore) {
      var row = document.querySelector("#queue li.unread");
      var ref = row ? row.getAttribute("data-reference") : "";
      notify("New customer message", "In one of your conversations" + (ref ? " (#" + ref + ")" : ""), ref);
    }
    unreadBefore = unread;
  }
  function showNotifyState() {
    $("notify").textContent = notificationsOn() ? "Notifications on" : "Notifications";
    $("notify").setAttribute("aria-pressed", notificationsOn() ? "true" : "false");
  }
  $("notify").addEventListener("click", function () {
    if (!("Notification" in window)) { say("This browser cannot show notifications."); return; }
    if (notificationsOn()) {
      window.localStorage.setItem("inbox-notify", "off");
      showNotifyState();
      say("Notifications off.");
      return;
    }
    Notification.requestPermission().then(function (answer) {
      window.localStorage.setItem("inbox-notify", answer === "granted" ? "on" : "off");
      showNotifyState();
      say(answer === "granted" ? "Notifications on: new customer messages in your conversations and SLA warnings."
        : "Notifications are blocked for this site in the browser.");
    });
  });

  // Keyboard: single keys outside text boxes (help on "?"); Ctrl+Enter sends from one.
  var pendingG = false;
  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }
  function step(by) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue li[data-reference]"));
    if (!rows.length) { return; }
    var at = rows.findIndex(function (li) { return li.classList.contains("current"); });
    var next = rows[Math.max(0, Math.min(rows.length - 1, at < 0 ? 0 : at + by))];
    window.location.hash = "#" + next.getAttribute("data-reference");
    next.scrollIntoView({ block: "nearest" });
  }
  function focusBox(id) { if (current !== null && $(id)) { $(id).focus(); } }
  var keys = {
    j: function () { step(1); },
    k: function () { step(-1); },
    r: function () { focusBox("reply-text"); },
    n: function () { focusBox("note-text"); },
    e: function () { if (current !== null && $("resolve") && !$("resolve").disabled) { buttons.resolve(); } },
    a: function () { focusBox("assign-to"); },
    t: function () { $("take-next").click(); },
    "/": function () { if ($("search-q")) { $("search-q").focus(); } },
    "?": function () { $("shortcuts").showModal(); }
  };
  var views = { m: "mine", u: "unassigned", o: "all" };
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && typing(event.target)) {
      var form = event.target.closest("form");
      if (form && forms[form.id]) { event.preventDefault(); forms[form.id](); }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if ($("shortcuts").open) { return; }
    if (pendingG) {
      pendingG = false;
      if (views[event.key]) { event.preventDefault(); chooseView(views[event.key], "0"); }
      return;
    }
    if (event.key === "g") { pendingG = true; return; }
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  });
  $("help").addEventListener("click", function () { $("shortcuts").showModal(); });

  // Search: the server renders the results in the list's place and row shape, and
  // `#list[data-search]` keeps the search (so the live refresh re-runs it); the view it
  // came from is `data-view`, where Esc, "Back" or an emptied box return to.
  var searchTimer = null;
  function searchParams() {
    var params = new URLSearchParams();
    new FormData($("search")).forEach(function (value, name) {
      if (String(value).trim()) { params.set(name, String(value).trim()); }
    });
    return params;
  }
  function search(offset) {
    clearTimeout(searchTimer);
    var params = searchParams();
    if (!params.toString()) { return leaveSearch(); }
    params.set("view", $("list").getAttribute("data-view") || "all");
    window.history.replaceState(null, "", "?" + params.toString() + window.location.hash);
    $("list").setAttribute("data-search", params.toString());
    $("list").setAttribute("data-offset", offset || "0");
    return refresh().catch(function (err) { say(err.message); });
  }
  function leaveSearch() {
    clearTimeout(searchTimer);
    if (!$("list").getAttribute("data-search")) { return Promise.resolve(); }
    return chooseView($("list").getAttribute("data-view") || "all", "0");
  }
  $("search").addEventListener("submit", function (event) { event.preventDefault(); search("0"); });
  $("search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { search("0"); }, 250);
  });
  $("search").addEventListener("change", function (event) {
    if (event.target.tagName === "SELECT" || event.target.type === "date") { search("0"); }
  });
  $("search").addEventListener("reset", function () { setTimeout(leaveSearch, 0); });
  $("search-q").addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    $("search").reset();  // the document's handler then leaves the box
  });
  // A search in the address (a reload, a link a colleague sent) is run again.
  function searchFromAddress() {
    var given = new URLSearchParams(window.location.search), any = false;
    Array.prototype.forEach.call($("search").elements, function (field) {
      if (field.name && given.get(field.name)) { field.value = given.get(field.name); any = true; }
    });
    if (any) { search("0"); }
  }
  // The filters fold away when the agent works elsewhere on the page.
  document.addEventListener("click", function (event) {
    if (!event.target.closest("#search")) { $("search-filters").open = false; }
  });
  $("lists").addEventListener("click", function (event) {
    var link = event.target.closest("a[data-search-offset], a[data-search-back]");
    if (!link) { return; }
    event.preventDefault();
    if (link.hasAttribute("data-search-back")) { $("search").reset(); return; }
    search(link.getAttribute("data-search-offset"));
  });

  window.addEventListener("hashchange", route);
  searchFromAddress();
  showNotifyState();
  localTimes(document);
  attention();
  route();
  listen();
}());
