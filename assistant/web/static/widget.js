/*
 * Shopbot chat widget. Embed with one tag:
 *
 *   <script src="https://bot.example/static/widget.js" data-site-key="sb_site_..." async></script>
 *
 * Optional attributes: data-customer-token (a signed token your backend minted with
 * POST /v1/customer-tokens; enables order questions), data-api (API origin; default: where this
 * script came from), data-title (panel heading).
 *
 * Everything lives in a shadow root, so the shop's CSS and ours never meet. The session id and the
 * transcript stay in localStorage, so the conversation survives page loads.
 *
 * Cart events for the shop's page (CustomEvents on `document`, bubbling to `window`; docs/api.md "Cart events"):
 *   shopbot:add-to-cart, shopbot:remove-from-cart  detail {product_id, sku, quantity, cart_count, cart_total}
 *   shopbot:cart                                   detail {action, cart_count, cart_total} after any cart action
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.siteKey) {
    console.error("Shopbot widget: add data-site-key=\"sb_site_...\" to the <script> tag (see `shopbot keys create`).");
    return;
  }
  var siteKey = script.dataset.siteKey;
  var customerToken = script.dataset.customerToken || null;
  var apiBase = (script.dataset.api || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var title = script.dataset.title || "Shop assistant";
  var storeKey = "shopbot:" + siteKey.slice(-12) + ":" + (customerToken ? "customer" : "guest");
  var MAX_KEPT = 40;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || { session: null, transcript: [] }; }
    catch (e) { return { session: null, transcript: [] }; }
  }
  var state = load();
  function save() {
    state.transcript = state.transcript.slice(-MAX_KEPT);
    try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode: keep in memory */ }
  }

  var css = [
    ":host{all:initial;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;color:#1d2430}",
    ".bubble{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:none;cursor:pointer;",
    " background:#1f6f5c;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;z-index:2147483000}",
    ".bubble:focus-visible,button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f2a541;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:92px;width:min(380px,calc(100vw - 40px));height:min(560px,calc(100vh - 120px));",
    " background:#fff;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}",
    ".panel[hidden]{display:none}",
    "header{background:#1f6f5c;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}",
    "header h2{font-size:16px;margin:0;flex:1}",
    "header button{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.5);border-radius:6px;padding:4px 8px;cursor:pointer;font-size:13px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}",
    ".log>*{flex-shrink:0}",
    ".msg{max-width:88%;padding:8px 11px;border-radius:12px;line-height:1.4;white-space:pre-wrap;word-wrap:break-word}",
    ".msg.user{align-self:flex-end;background:#1f6f5c;color:#fff;border-bottom-right-radius:3px}",
    ".msg.bot{align-self:flex-start;background:#fff;border:1px solid #e1e4e8;border-bottom-left-radius:3px}",
    ".msg.note{align-self:center;background:#fff7e6;border:1px solid #f2d49b;font-size:13px}",
    ".msg.error{align-self:center;background:#fdecec;border:1px solid #f5b5b5;color:#8a1c1c;font-size:13px}",
    ".cards{display:flex;gap:8px;overflow-x:auto;padding:2px 0 4px;align-self:stretch}",
    ".card{flex:0 0 150px;background:#fff;border:1px solid #e1e4e8;border-radius:10px;padding:8px;font-size:13px;display:flex;flex-direction:column;gap:4px}",
    ".card img,.card .ph{width:100%;height:90px;object-fit:cover;border-radius:6px;background:#e8efe9;display:flex;align-items:center;justify-content:center;color:#1f6f5c;font-weight:600}",
    ".card a{color:#1d2430;font-weight:600;text-decoration:none}.card a:hover{text-decoration:underline}",
    ".price{font-weight:700}.stock.in{color:#1f7a3a}.stock.out{color:#a12a2a}.reason{color:#555;font-size:12px}",
    ".sources{font-size:12px;color:#555;align-self:flex-start}",
    ".rate{align-self:flex-start;display:flex;gap:4px}.rate button{background:#fff;color:#445;border:1px solid #d0d4d9;border-radius:6px;cursor:pointer;padding:3px 7px;line-height:0}",
    ".rate button[aria-pressed=true]{background:#e6f2ee;border-color:#1f6f5c}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e1e4e8;background:#fff}",
    "input{flex:1;padding:9px 10px;border:1px solid #c7ccd1;border-radius:8px;font-size:15px}",
    "form button{background:#1f6f5c;color:#fff;border:none;border-radius:8px;padding:0 14px;cursor:pointer;font-size:15px}",
    "form button[disabled]{opacity:.6;cursor:wait}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("\n");

  var host = document.createElement("div");
  host.id = "shopbot-widget";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" + css + "</style>" +
    '<button class="bubble" type="button" aria-haspopup="dialog" aria-expanded="false" aria-controls="sb-panel" aria-label="Open chat with ' + esc(title) + '"><svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg></button>' +
    '<section class="panel" id="sb-panel" role="dialog" aria-modal="false" aria-labelledby="sb-title" hidden>' +
    '  <header><h2 id="sb-title">' + esc(title) + '</h2>' +
    '    <button type="button" class="new" aria-label="Start a new conversation">New chat</button>' +
    '    <button type="button" class="close" aria-label="Close chat">&#10005;</button></header>' +
    '  <div class="log" role="log" aria-live="polite" aria-relevant="additions" aria-label="Conversation" tabindex="0"></div>' +
    '  <div class="sr status" role="status" aria-live="assertive"></div>' +
    '  <form><label class="sr" for="sb-input">Message</label>' +
    '    <input id="sb-input" name="message" autocomplete="off" placeholder="Ask about products or your order" maxlength="2000">' +
    '    <button type="submit" aria-label="Send message">Send</button></form>' +
    "</section>";
  (document.body || document.documentElement).appendChild(host);

  var bubble = root.querySelector(".bubble");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var status = root.querySelector(".status");
  var form = root.querySelector("form");
  var input = root.querySelector("input");
  var sendButton = form.querySelector("button");

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function safeUrl(url) {
    try { var u = new URL(url, apiBase); return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null; }
    catch (e) { return null; }
  }
  function scroll() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text) {
    var el = document.createElement("div");
    el.className = "msg " + role;
    el.textContent = text;
    log.appendChild(el);
    scroll();
    return el;
  }

  function price(p) {
    if (p.price == null) return "";
    try { return new Intl.NumberFormat(undefined, { style: "currency", currency: p.currency || "USD" }).format(p.price); }
    catch (e) { return p.price + " " + (p.currency || ""); }
  }

  function addCards(products) {
    if (!products || !products.length) return;
    var list = document.createElement("ul");
    list.className = "cards";
    list.setAttribute("aria-label", products.length + " products");
    list.style.listStyle = "none"; list.style.margin = "0";
    products.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "card";
      li.dataset.productId = p.id;
      var img = safeUrl(p.image);
      var link = safeUrl(p.url);
      var inStock = p.in_stock != null ? p.in_stock : (p.stock == null || p.stock > 0);
      li.innerHTML =
        (img ? '<img alt="" loading="lazy" src="' + esc(img) + '">' : '<div class="ph" aria-hidden="true">' + esc((p.title || "?").slice(0, 1)) + "</div>") +
        (link ? '<a href="' + esc(link) + '" target="_blank" rel="noopener">' + esc(p.title) + "</a>" : "<strong>" + esc(p.title) + "</strong>") +
        '<span class="price">' + esc(price(p)) + "</span>" +
        '<span class="stock ' + (inStock ? "in" : "out") + '">' + (inStock ? "In stock" + (p.stock ? " (" + esc(p.stock) + ")" : "") : "Out of stock") + "</span>" +
        (p.reason ? '<span class="reason">' + esc(p.reason) + "</span>" : "");
      var image = li.querySelector("img");
      if (image) image.addEventListener("error", function () {
        var ph = document.createElement("div"); ph.className = "ph"; ph.setAttribute("aria-hidden", "true");
        ph.textContent = (p.title || "?").slice(0, 1); image.replaceWith(ph);
      });
      list.appendChild(li);
    });
    log.appendChild(list);
    scroll();
  }

  function addSources(citations) {
    if (!citations || !citations.length) return;
    var el = document.createElement("div");
    el.className = "sources";
    el.textContent = "Sources: " + citations.map(function (c) { return c.title || c.doc_id; }).join(", ");
    log.appendChild(el);
  }

  function addRating(turn) {
    if (!state.session) return;
    var box = document.createElement("div");
    box.className = "rate";
    box.innerHTML = '<button type="button" aria-pressed="false" aria-label="Helpful"><svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"/></svg></button>' +
                    '<button type="button" aria-pressed="false" aria-label="Not helpful"><svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z"/></svg></button>';
    var buttons = box.querySelectorAll("button");
    buttons.forEach(function (b, i) {
      b.addEventListener("click", function () {
        buttons.forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
        request("/v1/feedback", { session_id: state.session, rating: i === 0 ? "up" : "down",
                                  message: turn.user, reply: turn.reply, customer_token: customerToken || undefined })
          .then(function () { status.textContent = "Thanks for your feedback."; })
          .catch(function () { /* rating is best effort */ });
      });
    });
    log.appendChild(box);
  }

  // Cart actions become DOM events on the host page's `document` (they bubble to `window`), so the shop's own
  // cart code can follow what the assistant did. Only the documented keys are passed on: the action events may
  // grow keys without the shop's contract changing. A listener that throws does not stop the widget (the
  // browser reports it, as for any event listener).
  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }
  function pick(a, key) { return a[key] == null ? null : a[key]; }
  function announceCart(a) {
    if (!a || a.status !== "done") return;
    var name = a.action === "add_to_cart" ? "shopbot:add-to-cart" : a.action === "remove_from_cart" ? "shopbot:remove-from-cart" : null;
    if (name) {
      emit(name, { product_id: pick(a, "product_id"), sku: pick(a, "sku"), quantity: pick(a, "quantity"),
                   cart_count: pick(a, "cart_count"), cart_total: pick(a, "cart_total") });
    }
    if (typeof a.cart_count === "number") {  // add, remove, view: the assistant's cart as it now stands
      emit("shopbot:cart", { action: String(a.action), cart_count: a.cart_count, cart_total: pick(a, "cart_total") });
    }
  }

  function render() {
    log.innerHTML = "";
    state.transcript.forEach(function (m) {
      addMessage(m.role, m.text);
      if (m.products) addCards(m.products);
    });
  }

  function request(path, body) {
    return fetch(apiBase + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Shopbot-Key": siteKey, "Accept": "text/event-stream" },
      body: JSON.stringify(body)
    });
  }

  // One SSE frame ("event: x\ndata: {...}") -> {type, data}. Other lines are skipped: `: ping ...` keep-alive
  // comments (a frame of only those gives null), and `id:`/`retry:` fields, which the widget does not use.
  function parseFrame(frame) {
    var type = "message", data = [];
    frame.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) type = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try { return { type: type, data: JSON.parse(data.join("\n")) }; } catch (e) { return null; }
  }

  async function send(text, retried) {
    var response = await request("/v1/chat", { message: text, session_id: state.session || undefined,
                                               customer_token: customerToken || undefined });
    if (response.status === 404 && state.session && !retried) {  // the session expired or is not ours: start over
      state.session = null; save();
      return send(text, true);
    }
    if (!response.ok) {
      var detail = "";
      try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
      throw new Error(detail || ("The assistant is unavailable (HTTP " + response.status + ")."));
    }
    var bot = addMessage("bot", "");
    bot.setAttribute("aria-busy", "true");
    var turn = { user: text, reply: "", products: [] };
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      var cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        var event = parseFrame(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (!event) continue;
        var d = event.data || {};
        if (event.type === "token") { bot.textContent += d.text || ""; scroll(); }
        else if (event.type === "products") { turn.products = d.products || []; addCards(turn.products); }
        else if (event.type === "citation") { addSources(d.citations); }
        else if (event.type === "action") { if (d.message) addMessage("note", d.message); announceCart(d); }
        else if (event.type === "handoff") {
          addMessage("note", "A member of our team will take over" + (d.ticket_id ? " (ticket " + d.ticket_id + ")" : "") + ".");
        }
        else if (event.type === "error") { addMessage("error", d.detail || "Something went wrong."); }
        else if (event.type === "done") {
          if (d.session) state.session = d.session;
          turn.reply = d.reply != null ? d.reply : bot.textContent;
          bot.textContent = turn.reply;  // the checked reply is the one that counts
          if (!turn.products.length && d.products && d.products.length) { turn.products = d.products; addCards(d.products); }
        }
      }
    }
    bot.setAttribute("aria-busy", "false");
    state.transcript.push({ role: "user", text: text });
    state.transcript.push({ role: "bot", text: turn.reply || bot.textContent, products: turn.products });
    save();
    addRating(turn);
    scroll();
  }

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.setAttribute("aria-label", "Close chat with " + title);
    if (!log.childElementCount) render();
    if (!log.childElementCount) addMessage("bot", "Hi! How can I help you today?");
    input.focus();
  }
  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.setAttribute("aria-label", "Open chat with " + title);
    bubble.focus();
  }

  bubble.addEventListener("click", function () { panel.hidden ? open() : close(); });
  root.querySelector(".close").addEventListener("click", close);
  root.querySelector(".new").addEventListener("click", function () {
    state = { session: null, transcript: [] }; save();
    log.innerHTML = ""; addMessage("bot", "New conversation. How can I help?");
    status.textContent = "Started a new conversation.";
    input.focus();
  });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.preventDefault(); close(); } });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || sendButton.disabled) return;
    input.value = "";
    addMessage("user", text);
    sendButton.disabled = true;
    status.textContent = "Assistant is typing";
    send(text).then(function () { status.textContent = ""; }).catch(function (err) {
      addMessage("error", err.message || String(err));
      status.textContent = err.message || String(err);
    }).finally(function () { sendButton.disabled = false; input.focus(); });
  });

  window.Shopbot = { open: open, close: close, session: function () { return state.session; } };
})();
