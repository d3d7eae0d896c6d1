// The web chat client. Text is only ever set with textContent: nothing a stranger
// writes is parsed as HTML. Messages stay in `unconfirmed` until the server says it has
// them ("accepted"), and are sent again after a reconnect; the server ignores a
// client_id it already has, so nothing is lost and nothing is doubled. A bot answer may
// come with choices: buttons under it while it is the latest message; pressing one sends
// its text exactly as if the visitor had typed it.
//
// The visitor may give a name before their first message (kept in this browser); every
// message carries it. A site may open the page as /chat?user_id=…&email=…&name=…&user_hash=…
// for its signed-in user: the server checks the signature and answers with that user's
// own session; if it refuses, the chat goes on anonymously and says so.
//
// Its words come from the page (#chat-texts, in the visitor's language, as the server
// chose it from the browser's); each message tells the server the browser's language, for
// a message too short to tell its own.
(function () {
  "use strict";
  var TEXTS = readTexts();
  var KEY = "inbox-chat-token";
  var NAME_KEY = "inbox-chat-name";
  var IDENTITY_FIELDS = ["user_id", "email", "name", "user_hash"];
  var nameRow = document.getElementById("chat-name-row");
  var nameInput = document.getElementById("chat-name");
  var notice = document.getElementById("chat-notice");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var status = document.getElementById("chat-status");
  var seen = {};
  var socket = null;
  var unconfirmed = {};
  var order = [];
  var delay = 500;
  var failedOpens = 0;
  var offered = null; // the buttons under the latest message, if it has any
  var identity = siteIdentity(); // the site's signed-in user, or null
  var verified = null; // the token of the verified user's session, once the server gave it
  var verifiedName = "";
  var started = false; // the conversation has a message: the name is asked no more

  function readTexts() {
    var node = document.getElementById("chat-texts");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  }

  // A text by name with its {placeholders} filled; a value is put in as it is, never
  // read as a template ("{{" and "}}" stand for a brace).
  function say(key, values) {
    var template = TEXTS[key] || key;
    return template.replace(/\{\{|\}\}|\{(\w+)\}/g, function (whole, name) {
      if (whole === "{{") { return "{"; }
      if (whole === "}}") { return "}"; }
      return values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function siteIdentity() {
    var query = new URLSearchParams(window.location.search);
    var fields = {};
    IDENTITY_FIELDS.forEach(function (key) {
      if (query.get(key)) { fields[key] = query.get(key); }
    });
    return (fields.user_id || fields.email || fields.user_hash) ? fields : null;
  }

  function tell(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  // The name is asked until the conversation has its first message (it names a new
  // customer), never of a site's signed-in user: the site names them, if it will.
  function askName() {
    nameRow.hidden = started || Boolean(verified);
  }

  function visitorName() {
    if (verified) { return verifiedName; }
    return nameInput.value.trim();
  }

  // Support's rating links become clickable; the link always goes to this site's own
  // /rate/ path, whatever host the text names. Everything else stays text.
  var RATING = /https?:\/\/\S+?(\/rate\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/g;
  function withRatingLinks(node, text) {
    var last = 0;
    text.replace(RATING, function (whole, path, at) {
      node.appendChild(document.createTextNode(text.slice(last, at)));
      var link = document.createElement("a");
      link.href = path;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = whole;
      node.appendChild(link);
      last = at + whole.length;
      return whole;
    });
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function withdrawChoices() {
    if (offered) { offered.remove(); offered = null; }
  }

  function offerChoices(item, choices) {
    var group = document.createElement("div");
    group.className = "choices";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", say("chat_quick_replies"));
    choices.forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice;
      button.addEventListener("click", function () {
        sendText(choice);
        input.focus(); // the buttons are gone: keep the keyboard where the visitor writes
      });
      group.appendChild(button);
    });
    item.appendChild(group);
    offered = group;
  }

  // An agent's files: a link each, to a download the server signed for this visitor.
  function showFiles(item, files) {
    var list = document.createElement("ul");
    list.className = "files";
    files.forEach(function (file) {
      var link = document.createElement("a");
      link.href = file.url;
      link.setAttribute("download", file.name);
      link.rel = "noopener";
      link.textContent = file.name + " (" + fileSize(file.size) + ")";
      var entry = document.createElement("li");
      entry.appendChild(link);
      list.appendChild(entry);
    });
    item.appendChild(list);
  }

  function fileSize(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    if (bytes >= 1024) { return Math.round(bytes / 1024) + " KB"; }
    return bytes + " bytes";
  }

  function show(author, text, key, choices, files) {
    if (key && seen[key]) { return; }
    if (key) { seen[key] = true; }
    withdrawChoices(); // only the latest message offers choices
    var item = document.createElement("li");
    item.className = author;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = say(author === "customer" ? "you" : "support");
    var body = document.createElement("p");
    if (author === "customer") { body.textContent = text; } else { withRatingLinks(body, text); }
    item.appendChild(who);
    item.appendChild(body);
    if (files && files.length) { showFiles(item, files); }
    if (author !== "customer" && choices && choices.length) { offerChoices(item, choices); }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function anonymousToken() {
    var saved = window.localStorage.getItem(KEY);
    if (saved) { return Promise.resolve(saved); }
    return fetch("/chat/session", { method: "POST" })
      .then(function (r) { return r.json(); })
      .then(function (body) { window.localStorage.setItem(KEY, body.token); return body.token; });
  }

  // A verified user's token is kept for this page only: the site passes its user again
  // on the next page, and nothing of theirs stays in a shared browser.
  function verifiedToken() {
    return fetch("/chat/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(identity)
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.ok) {
          verified = body.token;
          verifiedName = body.name || "";
          tell(verifiedName ? say("chat_as", { name: verifiedName }) : say("chat_account"));
          askName();
          return verified;
        }
        if (r.status !== 403 && r.status !== 400) { throw new Error(body.error); }
        identity = null; // refused: never sent again from this page
        if (!nameInput.value) { nameInput.value = (siteIdentity() || {}).name || ""; }
        tell(say("chat_refused", { reason: body.error }));
        return anonymousToken();
      });
    });
  }

  function token() {
    if (verified) { return Promise.resolve(verified); }
    return identity ? verifiedToken() : anonymousToken();
  }

  function sendUnconfirmed() {
    if (!socket || socket.readyState !== 1) { return; }
    order.forEach(function (id) {
      if (unconfirmed[id]) { socket.send(JSON.stringify(unconfirmed[id])); }
    });
  }

  function retry() {
    window.setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  }

  function connect() {
    token().then(function (t) {
      var opened = false;
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + "/chat/ws?token=" + encodeURIComponent(t));
      socket.onopen = function () {
        opened = true;
        failedOpens = 0;
        delay = 500;
        status.textContent = say("chat_connected");
        sendUnconfirmed();
      };
      socket.onmessage = function (event) {
        var frame = JSON.parse(event.data);
        if (frame.type === "history") {
          // The server's history is the truth: redraw from it after every (re)connect,
          // then show what it does not have yet.
          log.textContent = "";
          seen = {};
          offered = null;
          frame.messages.forEach(function (m) { show(m.author, m.text, "m" + m.id, m.choices, m.files); });
          order.forEach(function (id) {
            if (unconfirmed[id]) { show("customer", unconfirmed[id].text, "c" + id); }
          });
          started = started || frame.messages.length > 0;
          askName();
        } else if (frame.type === "accepted") {
          delete unconfirmed[frame.client_id];
        } else if (frame.type === "message") {
          show(frame.author, frame.text, "m" + frame.id, frame.choices, frame.files);
        } else if (frame.type === "error") {
          if (frame.client_id) { delete unconfirmed[frame.client_id]; }
          status.textContent = frame.error;
        }
      };
      socket.onclose = function () {
        if (!opened) {
          failedOpens += 1;
          // A session the server no longer knows (its key changed): start a new one.
          if (failedOpens >= 2) {
            if (verified) { verified = null; } else { window.localStorage.removeItem(KEY); }
            failedOpens = 0;
          }
        }
        status.textContent = say("chat_reconnecting");
        retry();
      };
    }).catch(function () {
      status.textContent = say("chat_unreachable");
      retry();
    });
  }

  // The one way a visitor's message goes out, typed or pressed: kept unconfirmed until
  // the server has it, and sent again after a reconnect.
  function sendText(text) {
    var id = (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID() : String(Date.now()) + Math.random();
    var name = visitorName();
    if (!verified) { window.localStorage.setItem(NAME_KEY, name); }
    unconfirmed[id] = {
      type: "message", client_id: id, text: text, name: name, language: navigator.language || ""
    };
    order.push(id);
    started = true;
    askName();
    show("customer", text, "c" + id);
    sendUnconfirmed();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    sendText(text);
  });

  nameInput.value = window.localStorage.getItem(NAME_KEY) || "";
  if (!nameInput.value && !identity) {
    nameInput.value = new URLSearchParams(window.location.search).get("name") || "";
  }
  connect();
}());
