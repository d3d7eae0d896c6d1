// The agent desk: the queue, one conversation, an answer box. Everything a customer wrote
// is set with textContent; a mail's sanitised HTML is shown only inside an iframe with an
// empty `sandbox` attribute (no script, no forms, no navigation of this page, its own
// origin), under this page's CSP, which its srcdoc inherits. The session cookie is
// HttpOnly; writes carry the session's CSRF token from the page.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var CSRF = $("desk").getAttribute("data-csrf");
  var current = null;
  var seen = 0;  // the newest message id on screen: answers are held if newer ones arrive
  var canned = [];
  var mine = {};  // ids of the answers sent from this page
  var teammates = [];

  function say(text) { $("status").textContent = text; }

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent("/agent" + window.location.hash));
        throw new Error("Please sign in again.");
      }
      if (r.status === 204) { return null; }
      if (!r.ok) {
        return r.json().then(function (e) { throw new Error(e.error || r.statusText); });
      }
      return r.json();
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function mailFrame(html) {
    var frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.className = "mail-html";
    frame.title = "The message as its sender formatted it";
    frame.srcdoc = html;
    return frame;
  }

  function download(ref, file) {
    fetch("/api/conversations/" + ref + "/attachments/" + file.id, {
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) { throw new Error("The file could not be downloaded (" + r.status + ")."); }
      return r.blob();
    }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = file.filename || "attachment";
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }).catch(function (err) { say(err.message); });
  }

  function showMessage(ref, message) {
    var item = element("li", message.direction === "in" ? "customer" : "agent");
    var who = message.internal ? "Note by " + message.author : message.author;
    var state = message.delivery ? " · " + message.delivery : "";
    item.appendChild(element("span", "who", who + " · " + message.channel + state));
    if (message.delivery_error) { item.appendChild(element("p", "errors", message.delivery_error)); }
    if (message.html) { item.appendChild(mailFrame(message.html)); }
    else { item.appendChild(element("p", "", message.text)); }
    (message.attachments || []).forEach(function (file) {
      var button = element("button", "file", (file.kind === "original" ? "Original message" : file.filename) +
        " (" + file.size + " bytes" + (file.omitted ? ", too large: not kept" : "") + ")");
      button.type = "button";
      button.disabled = !!file.omitted;
      button.addEventListener("click", function () { download(ref, file); });
      item.appendChild(button);
    });
    return item;
  }

  function open(ref) {
    return api("GET", "/api/conversations/" + ref).then(function (c) {
      current = c.reference;
      $("conversation").hidden = false;
      $("conversation-title").textContent = c.ticket + " " + (c.subject || "");
      $("conversation-meta").textContent = [c.status, c.team, c.priority, c.channel,
        c.assignee ? "assigned to " + c.assignee : "unassigned", slaWords(c)]
        .filter(Boolean).join(" · ");
      $("evidence").textContent = evidence(c);
      showDuplicate(c);
      var list = $("messages");
      list.replaceChildren();
      c.messages.forEach(function (m) { list.appendChild(showMessage(c.reference, m)); });
      seen = c.messages.reduce(function (top, m) { return Math.max(top, m.id); }, 0);
      $("changed").hidden = true;
      showCustomer(c);
      showChoices(c);
      loadCanned(c.reference);
    }).catch(function (err) { say(err.message); });
  }

  function showCustomer(c) {
    var who = c.customer || {};
    var ids = (who.identities || []).map(function (i) { return i.channel + ": " + i.address; });
    var more = who.other_teams_conversations ? " · " + who.other_teams_conversations +
      " more with other teams" : "";
    $("customer").textContent = "Customer: " + (who.name || "(no name)") + " · " + who.tier +
      (ids.length ? " · " + ids.join(", ") : "") + more;
    var list = $("history");
    list.replaceChildren();
    (c.history || []).forEach(function (h) {
      var link = element("a", "", [h.ticket, h.status, h.channel, h.subject].filter(Boolean).join(" · "));
      link.href = "#" + h.reference;
      var item = element("li");
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  // Where the answer goes (the conversation's channel, or another identity of the
  // customer) and who can be given the conversation (members of its team).
  function showChoices(c) {
    var via = $("reply-via");
    via.replaceChildren();
    ((c.customer || {}).reply_options || []).forEach(function (o) {
      var option = element("option", "", o.channel + " \u2192 " + o.address + (o.own ? " (this conversation)" : ""));
      option.value = o.channel;
      via.appendChild(option);
    });
    var to = $("assign-to");
    to.replaceChildren();
    var nobody = element("option", "", "nobody");
    nobody.value = "";
    to.appendChild(nobody);
    teammates.filter(function (p) { return p.teams.indexOf(c.team) >= 0; }).forEach(function (p) {
      var option = element("option", "", p.name);
      option.value = p.name;
      option.selected = p.name === c.assignee;
      to.appendChild(option);
    });
  }

  function loadCanned(ref) {
    api("GET", "/api/conversations/" + ref + "/canned").then(function (body) {
      canned = body.canned;
      var select = $("canned");
      select.replaceChildren(element("option", "", "Choose one to fill in\u2026"));
      select.firstChild.value = "";
      canned.forEach(function (c, i) {
        var option = element("option", "", c.name);
        option.value = String(i);
        select.appendChild(option);
      });
    }).catch(function (err) { say(err.message); });
  }

  function evidence(c) {
    var r = c.routing;
    if (!r) { return ""; }
    var why = r.abstained ? "sent to " + r.team + ": " + r.abstain_reason
      : "routed to " + r.team + " with confidence " + r.confidence.toFixed(2);
    var near = (r.nearest || []).slice(0, 2).map(function (n) {
      return "\u201c" + n.text + "\u201d (" + n.team + ", " + n.score.toFixed(2) + ")";
    });
    return "Why: " + why + (near.length ? "; closest examples: " + near.join(", ") : "");
  }

  function showDuplicate(c) {
    var kinds = c.events.map(function (e) { return e.kind; });
    var offers = c.events.filter(function (e) { return e.kind === "possible_duplicate"; });
    var offer = offers[offers.length - 1];
    var offered = offer && kinds.indexOf("merged_into") < 0 && c.status !== "resolved";
    $("duplicate").hidden = !offered;
    if (!offered) { return; }
    var into = offer.data.reference;
    $("duplicate-text").textContent = "Possibly the same issue as #" + into +
      " (similarity " + offer.data.similarity.toFixed(2) + ").";
    $("merge").textContent = "Merge into #" + into;
    $("merge").onclick = function () {
      api("POST", "/api/conversations/" + c.reference + "/merge", { into: into })
        .then(function () { return refresh(); })
        .then(function () { location.hash = "#" + into; })
        .catch(function (err) { say(err.message); });
    };
  }

  function when(stamp) {
    return new Date(stamp * 1000).toLocaleString([], {
      weekday: "short", hour: "2-digit", minute: "2-digit"
    });
  }

  // The SLA at a glance: "SLA ok, due Mon 09:55", "SLA breached, due ...", "SLA paused".
  function slaWords(c) {
    if (!c.sla_state) { return ""; }
    if (!c.sla_due) { return "SLA " + c.sla_state; }
    return "SLA " + c.sla_state + ", due " + when(c.sla_due);
  }

  function refresh() {
    return api("GET", "/api/conversations?limit=200").then(function (body) {
      var list = $("queue");
      list.replaceChildren();
      body.conversations.forEach(function (c) {
        var words = [c.ticket, c.status, c.team, c.priority, c.channel, slaWords(c), c.subject];
        var link = element("a", "sla-" + (c.sla_state || "none"), words.filter(Boolean).join(" · "));
        link.href = "#" + c.reference;
        var item = element("li");
        item.appendChild(link);
        list.appendChild(item);
      });
      if (!body.conversations.length) { list.appendChild(element("li", "", "Nothing in your teams' queue.")); }
    });
  }

  function start() {
    api("GET", "/api/teams").then(function (body) {
      body.teams.forEach(function (t) {
        var option = element("option", "", t.display_name);
        option.value = t.name;
        $("reassign-team").appendChild(option);
      });
    }).catch(function (err) { say(err.message); });
    // The queue does not wait for the list of teammates (only the assign box needs it).
    var people = api("GET", "/api/agents").then(function (body) { teammates = body.agents; })
      .catch(function (err) { say(err.message); });
    refresh().then(function () { return people; }).then(route)
      .catch(function (err) { say(err.message); });
    listen();
  }

  // Live: the queue follows changes in my teams; an open conversation that changed says so.
  function listen() {
    var source = new EventSource("/live");
    source.addEventListener("conversation", function (event) {
      var data = JSON.parse(event.data);
      refresh().catch(function (err) { say(err.message); });
      if (current !== null && data.reference === current) {
        api("GET", "/api/conversations/" + current).then(function (c) {
          var arrived = c.messages.filter(function (m) {
            return m.id > seen && !m.internal && m.author !== "bot" && !mine[m.id];
          });
          if (arrived.length) {
            $("changed").textContent = arrived.length + " new message(s) since you opened this " +
              "conversation: reload it before you answer.";
            $("changed").hidden = false;
          }
        }).catch(function (err) { say(err.message); });
      }
    });
    source.addEventListener("reload", function () { window.location.reload(); });
  }

  function route() {
    say("");
    var ref = window.location.hash.replace("#", "");
    if (/^\d+$/.test(ref)) { return open(ref); }
    $("conversation").hidden = true;
    current = null;
  }

  $("reply").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/api/conversations/" + current + "/reply",
      { text: $("reply-text").value, seen: seen, channel: $("reply-via").value || undefined })
      .then(function (sent) {
        mine[sent.message_id] = true;
        $("reply-text").value = "";
        say("Answer queued for delivery.");
        return open(current);
      })
      .catch(function (err) {
        say(err.message);
        if (/^not sent/.test(err.message)) {  // held: show what arrived, keep the draft
          var draft = $("reply-text").value;
          open(current).then(function () {
            $("reply-text").value = draft;
            $("changed").textContent = err.message;
            $("changed").hidden = false;
          });
        }
      });
  });
  $("canned").addEventListener("change", function () {
    var chosen = canned[Number($("canned").value)];
    if (chosen) { $("reply-text").value = chosen.text; $("reply-text").focus(); }
  });
  $("note").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/api/conversations/" + current + "/notes", { text: $("note-text").value })
      .then(function () { $("note-text").value = ""; say("Note added."); return open(current); })
      .catch(function (err) { say(err.message); });
  });
  $("assign").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = $("assign-to").value || null;
    api("POST", "/api/conversations/" + current + "/assign", { agent: name })
      .then(function () { say(name ? "Assigned to " + name + "." : "Unassigned."); return open(current); })
      .catch(function (err) { say(err.message); });
  });
  $("reassign").addEventListener("submit", function (event) {
    event.preventDefault();
    var team = $("reassign-team").value;
    api("POST", "/api/conversations/" + current + "/reassign", { team: team })
      .then(function () { say("Moved to " + team + "; the router learnt from it."); return refresh(); })
      .then(route)
      .catch(function (err) { say(err.message); });
  });
  $("take-next").addEventListener("click", function () {
    api("POST", "/api/conversations/next").then(function (c) {
      if (!c) { say("Nothing is waiting in your teams' queues."); return null; }
      return refresh().then(function () { window.location.hash = "#" + c.reference; });
    }).catch(function (err) { say(err.message); });
  });
  $("confirm").addEventListener("click", function () {
    api("POST", "/api/conversations/" + current + "/confirm")
      .then(function (r) { say("Thank you: the router learnt that this is for " + r.team + "."); })
      .catch(function (err) { say(err.message); });
  });
  $("resolve").addEventListener("click", function () {
    api("POST", "/api/conversations/" + current + "/resolve")
      .then(function () { return refresh(); }).then(function () { return open(current); })
      .catch(function (err) { say(err.message); });
  });
  window.addEventListener("hashchange", route);
  start();
}());
