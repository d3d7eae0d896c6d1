// The web chat client. Text is only ever set with textContent: nothing a stranger
// writes is parsed as HTML.
(function () {
  "use strict";
  var KEY = "inbox-chat-token";
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var status = document.getElementById("chat-status");
  var seen = {};
  var socket = null;
  var outbox = [];
  var delay = 500;

  function show(author, text, key) {
    if (key && seen[key]) { return; }
    if (key) { seen[key] = true; }
    var item = document.createElement("li");
    item.className = author;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = author === "customer" ? "You" : "Support";
    var body = document.createElement("p");
    body.textContent = text;
    item.appendChild(who);
    item.appendChild(body);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function token() {
    var saved = window.localStorage.getItem(KEY);
    if (saved) { return Promise.resolve(saved); }
    return fetch("/chat/session", { method: "POST" })
      .then(function (r) { return r.json(); })
      .then(function (body) { window.localStorage.setItem(KEY, body.token); return body.token; });
  }

  function flush() {
    while (socket && socket.readyState === 1 && outbox.length) {
      socket.send(JSON.stringify(outbox[0]));
      outbox.shift();
    }
  }

  function connect() {
    token().then(function (t) {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + "/chat/ws?token=" + encodeURIComponent(t));
      socket.onopen = function () { status.textContent = "Connected"; delay = 500; flush(); };
      socket.onmessage = function (event) {
        var frame = JSON.parse(event.data);
        if (frame.type === "history") {
          // The server's history is the truth: redraw from it after every (re)connect.
          log.textContent = "";
          seen = {};
          frame.messages.forEach(function (m) { show(m.author, m.text, "m" + m.id); });
        } else if (frame.type === "message") {
          show(frame.author, frame.text, "m" + frame.id);
        } else if (frame.type === "error") {
          status.textContent = frame.error;
        }
      };
      socket.onclose = function () {
        status.textContent = "Reconnecting…";
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }).catch(function () {
      status.textContent = "Cannot reach support; retrying…";
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    var id = (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID() : String(Date.now()) + Math.random();
    outbox.push({ type: "message", client_id: id, text: text });
    show("customer", text, "c" + id);
    input.value = "";
    flush();
  });

  connect();
}());
