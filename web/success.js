// The success page: the payment page sends the buyer here with ?order_id=<id>, and we
// follow the order through backroom's GET /orders/{id} until it reaches a final state.
// Uses api(), el(), formatMoney() and formatTime() from app.js, which loads first.
"use strict";

(function () {
  // How often the page asks. Every request is a request to the shop's front door, so the
  // page asks often only while something is about to happen: every 2 seconds until the
  // payment is confirmed (seconds after paying), then at growing intervals (4, 8, 16 … up
  // to 60 seconds; back to 4 after each change) while the order is made, and not at all
  // while the tab is hidden. After half an hour it stops and says that a reload shows
  // later changes: an order takes days to ship, and a tab left open must not keep asking.
  const PAYMENT_POLL_MS = 2000;
  const FIRST_POLL_MS = 4000;
  const MAX_POLL_MS = 60000;
  const GIVE_UP_MS = 30 * 60 * 1000;

  // Statuses after which nothing more will happen that is worth waiting on this page
  // for. Other statuses can still change, so we keep asking.
  const FINAL = new Set(["shipped", "delivered", "refunded", "canceled", "expired", "failed", "payment_failed"]);

  // One friendly sentence per status. The raw status word is shown too (it is what
  // the shop owner and any support email will use).
  const SENTENCES = {
    pending_payment: "We are waiting for the payment to be confirmed. This usually takes a few seconds.",
    failed: "We could not start the payment, so nothing was charged. Please try again from the shop.",
    expired: "This checkout expired before it was paid. Nothing was charged.",
    payment_failed: "The payment did not go through, so nothing was charged.",
    paid: "Payment received, thank you! We are sending your order to be made.",
    submitted: "Your order is with our print workshop and will go into production shortly.",
    in_production: "Your order is being made.",
    on_hold: "Your order is briefly on hold while we sort something out. No action is needed from you yet.",
    partially_shipped: "Part of your order is on its way; the rest will follow soon.",
    shipped: "Your order is on its way.",
    delivered: "Your order has been delivered. Enjoy!",
    refunded: "This order was refunded.",
    canceled: "This order was canceled.",
    needs_attention: "We are taking a closer look at your order and will be in touch if we need anything.",
  };

  const orderId = new URLSearchParams(window.location.search).get("order_id");

  function showFatal(message) {
    document.getElementById("order-loading").hidden = true;
    const box = document.getElementById("order-error");
    box.textContent = message;
    box.hidden = false;
  }

  function render(order) {
    document.getElementById("order-loading").hidden = true;
    document.getElementById("order-error").hidden = true;
    document.getElementById("order").hidden = false;

    document.getElementById("order-number").textContent = String(order.number);
    const status = document.getElementById("order-status");
    status.textContent = order.status;
    status.dataset.status = order.status;
    // Only rewrite the sentence when it changes, so screen readers announce each
    // new status once instead of every 2 seconds.
    let sentence = SENTENCES[order.status] || "Your order's status is " + order.status.replace(/_/g, " ") + ".";
    // A parcel the carrier could not deliver, or the delivery date, said plainly.
    if (order.delivery_note) sentence = order.delivery_note + " " + sentence;
    const sentenceBox = document.getElementById("status-sentence");
    if (sentenceBox.textContent !== sentence) sentenceBox.textContent = sentence;

    document.getElementById("order-items").replaceChildren(...order.items.map((item) => {
      const row = el("tr");
      row.append(
        el("td", null, item.name),
        el("td", null, item.size),
        el("td", "num", item.quantity),
        el("td", "num", formatMoney({ amount: item.unit_price.amount * item.quantity, currency: item.unit_price.currency })),
      );
      return row;
    }));
    document.getElementById("order-subtotal").textContent = formatMoney(order.subtotal || order.total);
    for (const part of ["discount", "shipping", "tax"]) {
      const value = order[part];
      const row = document.getElementById(`order-${part}-row`);
      row.hidden = !value || value.amount === 0;
      if (value) {
        document.getElementById(`order-${part}`).textContent =
          part === "discount" ? `-${formatMoney(value)}` : formatMoney(value);
      }
    }
    document.getElementById("order-total").textContent = formatMoney(order.total);

    document.getElementById("timeline").replaceChildren(...order.timeline.map((entry) => {
      const item = el("li");
      const time = el("time", null, formatTime(entry.at));
      time.dateTime = entry.at;
      item.append(time, el("span", "timeline-status", entry.status));
      if (entry.detail) item.append(el("span", "timeline-detail", entry.detail));
      return item;
    }));

    const tracking = order.tracking || [];
    document.getElementById("tracking-section").hidden = tracking.length === 0;
    document.getElementById("tracking").replaceChildren(...tracking.map((parcel) => {
      const item = el("li");
      const label = parcel.carrier + " " + parcel.number;
      // Only http(s) addresses become links: a "javascript:" URL from a compromised
      // upstream must never be clickable on our page.
      if (isWebUrl(parcel.url)) {
        const link = el("a", null, label);
        link.href = parcel.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        item.append(link);
      } else {
        item.append(el("span", null, label));
      }
      if (parcel.delivery) item.append(el("span", "tracking-delivery", " (" + parcel.delivery + ")"));
      return item;
    }));
  }

  function isWebUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch (notAUrl) {
      return false;
    }
  }

  // The buyer came back from paying, so the cart that was checked out is done with.
  // We only clear it if this is the order that cart started, so that opening an old
  // order link never empties a new cart.
  function forgetPaidCart() {
    if (localStorage.getItem(PENDING_ORDER_KEY) === orderId) {
      localStorage.removeItem(PENDING_ORDER_KEY);
      localStorage.removeItem(CART_KEY);
    }
  }

  const openedAt = Date.now();
  let lastStatus = null;
  let delay = PAYMENT_POLL_MS;
  let timer = null;
  let done = false;
  let asking = false;

  // The wait before the next request, from what the last answer said.
  function nextDelay(status) {
    if (status === "pending_payment" || status === null) return PAYMENT_POLL_MS;
    if (status !== lastStatus) return FIRST_POLL_MS;
    return Math.min(delay * 2, MAX_POLL_MS);
  }

  function schedule() {
    if (done || document.hidden) return; // Resumed by the visibility handler.
    if (Date.now() - openedAt > GIVE_UP_MS) {
      document.getElementById("poll-note").textContent = "Reload this page to see later changes.";
      return;
    }
    timer = setTimeout(poll, delay);
  }

  async function poll() {
    timer = null;
    asking = true;
    const note = document.getElementById("poll-note");
    try {
      const order = await api("/orders/" + encodeURIComponent(orderId));
      render(order);
      if (FINAL.has(order.status)) {
        note.textContent = "";
        done = true;
        asking = false;
        return; // Nothing more to wait for.
      }
      delay = nextDelay(order.status);
      lastStatus = order.status;
      note.textContent = "This page updates by itself.";
    } catch (error) {
      // A malformed or unknown id will not start working later: stop and say so.
      if (error.status === 400 || error.status === 404) {
        showFatal("We could not find this order. Please check that the address of this page is complete.");
        done = true;
        asking = false;
        return;
      }
      // Anything else (a dropped connection, a restart) is worth retrying quietly.
      if (document.getElementById("order").hidden) {
        document.getElementById("order-loading").textContent = "Still looking up your order… (" + error.message + ")";
      } else {
        note.textContent = "Could not refresh just now; trying again.";
      }
    }
    // Schedule the next request only after this one has finished, so a slow server
    // never has several requests from us piling up.
    asking = false;
    schedule();
  }

  // A tab in the background asks nothing; coming back asks at once.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !done && !asking && timer === null && Date.now() - openedAt <= GIVE_UP_MS) {
      delay = FIRST_POLL_MS;
      poll();
    } else if (document.hidden && timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  });

  if (!orderId) {
    showFatal("This page shows an order, but its address names none (it should end in ?order_id=…).");
    return;
  }
  forgetPaidCart();
  poll();
})();
