// The owner page: a read-only view of the shop's state, refreshed every 5 seconds.
// It only reads; every change (redrive, reconcile --fix, …) goes through the
// `backroom` command, which keeps an audit trail in the order timelines.
// The page is served by backroom itself, so the API is always on the same origin.
"use strict";

(function () {
  const REFRESH_MS = 5000;

  // Statuses in the order the owner wants to see them: the ones that need a human
  // first, then the normal life of an order, then the ones that ended without a sale.
  const STATUS_ORDER = [
    "needs_attention", "on_hold", "paid", "submitted", "in_production", "partially_shipped",
    "shipped", "delivered", "pending_payment", "payment_failed", "refunded", "canceled",
    "expired", "failed",
  ];

  // The JSON each section last drew, so that an unchanged section is left alone.
  // Redrawing it anyway would reset keyboard focus and text selection every 5 seconds.
  const lastDrawn = {};
  let timer = null;
  let refreshing = false;

  // --- Small helpers (the same ideas as in the storefront's app.js) ---------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const moneyFormats = new Map();
  // Amounts are in minor units; Intl knows how many digits each currency has.
  function formatMoney(money) {
    let format = moneyFormats.get(money.currency);
    if (!format) {
      format = new Intl.NumberFormat(undefined, { style: "currency", currency: money.currency });
      moneyFormats.set(money.currency, format);
    }
    return format.format(money.amount / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  function timeEl(iso) {
    const node = el("time", null, formatTime(iso));
    if (iso) node.dateTime = iso;
    return node;
  }

  // Builds a table from a header list and rows of cells (strings or nodes).
  function table(caption, headers, rows, className) {
    const wrap = el("div", "table-scroll");
    const tableEl = el("table", className);
    const cap = el("caption", "visually-hidden", caption);
    const head = el("thead");
    const headRow = el("tr");
    for (const header of headers) {
      const th = el("th", header.className, header.label);
      th.scope = "col";
      headRow.append(th);
    }
    head.append(headRow);
    const body = el("tbody");
    for (const cells of rows) {
      const row = el("tr");
      cells.forEach((cell, index) => {
        const td = el("td", headers[index].className);
        td.append(cell instanceof Node ? cell : document.createTextNode(cell === null || cell === undefined ? "" : String(cell)));
        row.append(td);
      });
      body.append(row);
    }
    tableEl.append(cap, head, body);
    wrap.append(tableEl);
    return wrap;
  }

  // "dev" (backroom dev, which also serves the storefront) or "owner" (backroom owner, which
  // serves this page alone), as the summary says.
  let mode = "dev";

  // A link to the buyer's order page, which shows the full timeline. `backroom owner` serves
  // no storefront: there the order's command is shown on hover instead.
  function orderLink(orderId, text) {
    if (!orderId) return document.createTextNode("");
    if (mode === "owner") {
      const span = el("span", text ? null : "mono id", text || orderId);
      span.title = "backroom orders show " + orderId;
      return span;
    }
    const link = el("a", text ? null : "mono id", text || orderId);
    link.href = "/success.html?order_id=" + encodeURIComponent(orderId);
    return link;
  }

  // How long ago, in the largest whole unit.
  function formatAge(seconds) {
    if (seconds >= 2 * 86400) return Math.floor(seconds / 86400) + " days";
    if (seconds >= 2 * 3600) return Math.floor(seconds / 3600) + " h";
    if (seconds >= 60) return Math.floor(seconds / 60) + " min";
    return "under a minute";
  }

  function code(text) {
    return el("code", null, text);
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) {
      const error = new Error("HTTP " + response.status);
      error.status = response.status;
      try {
        const body = await response.json();
        if (body && body.error && body.error.message) error.message = body.error.message;
      } catch (notJson) { /* keep the HTTP status as the message */ }
      throw error;
    }
    return response.json();
  }

  // --- Sections --------------------------------------------------------------------

  function drawOrders(data) {
    const orders = data.orders || [];
    document.getElementById("orders-count").textContent = "(" + orders.length + ")";
    const body = document.getElementById("orders-body");
    if (orders.length === 0) {
      body.replaceChildren(el("p", "muted", "No orders yet."));
      return;
    }

    const groups = new Map();
    for (const order of orders) {
      if (!groups.has(order.status)) groups.set(order.status, []);
      groups.get(order.status).push(order);
    }
    // Known statuses in our order; any status this page does not know yet goes last
    // rather than disappearing.
    const statuses = STATUS_ORDER.filter((status) => groups.has(status))
      .concat([...groups.keys()].filter((status) => !STATUS_ORDER.includes(status)));

    // The summary: one count per status, each a link to its group below.
    const counts = el("ul", "status-counts");
    for (const status of statuses) {
      const item = el("li");
      item.setAttribute("data-testid", "admin-count-" + status);
      const link = el("a");
      link.href = "#group-" + status;
      link.append(el("span", "status-badge", status), el("strong", "count-number", groups.get(status).length));
      link.querySelector(".status-badge").dataset.status = status;
      item.append(link);
      counts.append(item);
    }

    const parts = [counts];
    for (const status of statuses) {
      const group = groups.get(status);
      const heading = el("h3", "group-heading");
      heading.id = "group-" + status;
      heading.append(el("span", "status-badge", status), el("span", "muted", " " + group.length));
      heading.querySelector(".status-badge").dataset.status = status;
      // What the order earned: paid (after tax), less Stripe's fee and Printful's bill.
      const part = (order, key) => {
        const e = order.earned;
        if (!e || e[key] === null || e[key] === undefined) return "—";
        return formatMoney({ amount: e[key], currency: e.currency });
      };
      const rows = group.map((order) => [
        orderLink(order.order_id, String(order.number)),
        formatMoney(order.total),
        part(order, "revenue"),
        part(order, "stripe_fee"),
        part(order, "printful_cost"),
        (() => {
          const margin = el("span", order.earned && order.earned.losses.length ? "loss" : "", part(order, "margin"));
          margin.setAttribute("data-testid", "admin-margin-" + order.number);
          if (order.earned && order.earned.losses.length) margin.title = order.earned.losses.join("; ");
          return margin;
        })(),
        order.email || "",
        timeEl(order.created_at),
        timeEl(order.updated_at),
      ]);
      const groupEl = el("div", "order-group");
      groupEl.setAttribute("data-status", status);
      groupEl.append(heading, table("Orders with status " + status, [
        { label: "Number" }, { label: "Items", className: "num" }, { label: "Paid", className: "num" },
        { label: "Stripe fee", className: "num" }, { label: "Printful", className: "num" },
        { label: "Margin", className: "num" }, { label: "Email" },
        { label: "Created" }, { label: "Updated" },
      ], rows, "orders-table"));
      parts.push(groupEl);
    }
    body.replaceChildren(...parts);
  }

  function drawAlerts(data) {
    // Security alerts first (someone else may be using our keys), newest first within each.
    const alerts = (data.alerts || []).slice().sort((a, b) =>
      (a.severity === "security" ? 0 : 1) - (b.severity === "security" ? 0 : 1) || String(b.at).localeCompare(String(a.at)));
    document.getElementById("alerts-count").textContent = "(" + alerts.length + ")";
    const body = document.getElementById("alerts-body");
    if (alerts.length === 0) {
      body.replaceChildren(el("p", "all-clear", "No open alerts."));
      return;
    }
    const list = el("ul", "alerts");
    for (const alert of alerts) {
      const item = el("li", "alert alert-" + (alert.severity === "security" ? "security" : "ops"));
      item.setAttribute("data-severity", alert.severity);
      const head = el("div", "alert-head");
      // The severity is spelled out, not only coloured, for readers who cannot tell the colours apart.
      head.append(el("span", "severity", alert.severity === "security" ? "Security" : "Ops"), el("span", "alert-kind mono", alert.kind));
      if (alert.occurrences > 1) head.append(el("span", "muted", "×" + alert.occurrences));
      head.append(timeEl(alert.at));
      item.append(head, el("p", "alert-message", alert.message));
      if (alert.order_id) {
        const order = el("p", "small");
        order.append(document.createTextNode("Order "), orderLink(alert.order_id));
        item.append(order);
      }
      list.append(item);
    }
    body.replaceChildren(list);
  }

  function drawDlq(data) {
    const messages = data.messages || [];
    document.getElementById("dlq-count").textContent = "(" + messages.length + ")";
    const body = document.getElementById("dlq-body");
    if (data.error) {
      body.replaceChildren(el("p", "muted", data.error));
      return;
    }
    if (messages.length === 0) {
      body.replaceChildren(el("p", "all-clear", "Empty: every event was processed."));
      return;
    }
    const hint = el("p", "muted small");
    if (typeof data.approximate_messages === "number" && data.approximate_messages > messages.length) {
      hint.append(document.createTextNode("About " + data.approximate_messages + " in the queue, " + messages.length + " shown. "));
    }
    hint.append(document.createTextNode("These events failed 5 times. Fix the cause, then run "), code("backroom dlq redrive"), document.createTextNode("."));
    body.replaceChildren(hint, table("Dead-lettered messages", [
      { label: "Source" }, { label: "Event type" }, { label: "Event id" }, { label: "Receives", className: "num" }, { label: "Message id" },
    ], messages.map((message) => [
      message.source, message.event_type, el("span", "mono id", message.event_id),
      message.receive_count, el("span", "mono id", message.message_id),
    ])));
  }

  function drawReconcile(data) {
    const body = document.getElementById("reconcile-body");
    const run = data.run;
    if (!run) {
      const none = el("p", "muted");
      none.append(document.createTextNode("No reconcile run yet. Start one with "), code("backroom reconcile"), document.createTextNode("."));
      body.replaceChildren(none);
      return;
    }
    const facts = el("dl", "facts");
    const fact = (term, value) => {
      const dd = el("dd");
      dd.append(value instanceof Node ? value : document.createTextNode(String(value)));
      facts.append(el("dt", null, term), dd);
    };
    fact("Started", timeEl(run.started_at));
    fact("Finished", run.finished_at ? timeEl(run.finished_at) : "still running");
    fact("Window", run.window_days === 1 ? "1 day" : run.window_days + " days");
    fact("Mode", run.fix ? "fix (repairs applied)" : "report only");

    const discrepancies = run.discrepancies || [];
    const parts = [facts];
    if (discrepancies.length === 0) {
      parts.push(el("p", "all-clear", "No discrepancies: Stripe, the database and Printful agree."));
    } else {
      parts.push(el("h3", null, discrepancies.length === 1 ? "1 discrepancy" : discrepancies.length + " discrepancies"));
      parts.push(table("Discrepancies", [
        { label: "Severity" }, { label: "Kind" }, { label: "Order" }, { label: "Detail" },
      ], discrepancies.map((item) => {
        const severity = el("span", "severity-text" + (item.severity === "security" ? " is-security" : ""), item.severity);
        return [severity, el("span", "mono", item.kind), orderLink(item.order_id), item.detail];
      })));
    }
    body.replaceChildren(...parts);
  }

  function drawEvents(data) {
    const events = data.events || [];
    const waiting = data.unpublished || 0;
    document.getElementById("events-count").textContent = "(" + events.length + ")";
    const body = document.getElementById("events-body");
    const where = el("p", "muted small");
    where.append(document.createTextNode("Published to " + (data.destination || "?") + ". "));
    if (waiting > 0) {
      where.append(document.createTextNode(waiting + " waiting: the catch-up publishes them."));
    }
    if (events.length === 0) {
      body.replaceChildren(where, el("p", "muted", "No order events yet."));
      return;
    }
    body.replaceChildren(where, table("Order events, newest first", [
      { label: "Event" }, { label: "Order" }, { label: "When" }, { label: "Published" }, { label: "Event id" },
    ], events.map((event) => {
      const published = event.published_at
        ? timeEl(event.published_at)
        : el("span", "severity-text is-security", "waiting" + (event.attempts ? " (" + event.attempts + " failed: " + (event.last_error || "") + ")" : ""));
      const detail = el("details");
      detail.append(el("summary", null, event.detail_type), el("pre", "mono small", JSON.stringify(event.detail, null, 2)));
      return [detail, orderLink(event.order_id), timeEl(event.at), published, el("span", "mono id", event.event_id)];
    }), "events-table"));
  }

  // --- The summary: sales per day, stuck orders, disputes, alarms ------------------------

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // The currency most of the period's revenue is in: the chart draws that one.
  function mainCurrency(days) {
    const totals = new Map();
    for (const day of days) {
      for (const r of day.revenue) totals.set(r.currency, (totals.get(r.currency) || 0) + r.amount);
    }
    let best = null;
    for (const [currency, amount] of totals) if (best === null || amount > totals.get(best)) best = currency;
    return { best, totals };
  }

  function shortDate(iso) {
    // The date is a UTC day ("2026-12-07"): formatted as such, whatever the browser's zone.
    const date = new Date(iso + "T00:00:00Z");
    return date.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
  }

  // A bar per day for the revenue in the main currency, the day's order count above it.
  function salesChart(days) {
    const { best, totals } = mainCurrency(days);
    const width = 900, height = 220, left = 64, right = 8, top = 18, bottom = 28;
    const plotW = width - left - right, plotH = height - top - bottom;
    const amountOf = (day) => (day.revenue.find((r) => r.currency === best) || { amount: 0 }).amount;
    const maxAmount = Math.max(1, ...days.map(amountOf));
    const totalOrders = days.reduce((n, day) => n + day.orders, 0);
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height, class: "sales-chart", role: "img",
      "data-testid": "sales-chart", "data-days": days.length, "data-orders": totalOrders,
      "aria-label": "Orders and revenue per day over the last " + days.length + " days",
    });
    // The axis: zero and the highest day.
    chart.append(
      svg("line", { x1: left, y1: top + plotH, x2: width - right, y2: top + plotH, class: "axis" }),
      svg("text", { x: left - 6, y: top + plotH, class: "tick", "text-anchor": "end" }, best ? formatMoney({ amount: 0, currency: best }) : "0"),
      svg("text", { x: left - 6, y: top + 10, class: "tick", "text-anchor": "end" }, best ? formatMoney({ amount: maxAmount, currency: best }) : ""),
      svg("line", { x1: left, y1: top, x2: width - right, y2: top, class: "grid" }),
    );
    const step = plotW / days.length;
    days.forEach((day, i) => {
      const amount = amountOf(day);
      const h = Math.round((amount / maxAmount) * plotH);
      const x = left + i * step + step * 0.15;
      const bar = svg("rect", {
        x: x.toFixed(1), y: top + plotH - h, width: (step * 0.7).toFixed(1), height: Math.max(h, day.orders ? 1 : 0),
        class: "bar", "data-date": day.date, "data-orders": day.orders, "data-amount": amount,
      });
      const money = day.revenue.map(formatMoney).join(" + ") || "no sales";
      bar.append(svg("title", {}, shortDate(day.date) + ": " + day.orders + (day.orders === 1 ? " order, " : " orders, ") + money));
      chart.append(bar);
      if (day.orders > 0) {
        chart.append(svg("text", { x: (x + step * 0.35).toFixed(1), y: top + plotH - h - 4, class: "count-label", "text-anchor": "middle" }, day.orders));
      }
      if (i % 5 === 0 || i === days.length - 1) {
        chart.append(svg("text", { x: (x + step * 0.35).toFixed(1), y: height - 8, class: "tick", "text-anchor": "middle" }, shortDate(day.date)));
      }
    });
    const totalsText = [...totals].map(([currency, amount]) => formatMoney({ amount, currency })).join(" + ");
    const caption = el("p", "muted small", totalOrders + (totalOrders === 1 ? " paid order" : " paid orders") +
      (totalsText ? ", " + totalsText : "") + " in " + days.length + " days (UTC). Bars: revenue per day" +
      (totals.size > 1 ? " in " + best : "") + "; numbers: orders.");
    return [chart, caption];
  }

  function drawStuck(stuck) {
    document.getElementById("stuck-count").textContent = "(" + stuck.length + ")";
    const body = document.getElementById("stuck-body");
    if (stuck.length === 0) {
      body.replaceChildren(el("p", "all-clear", "None: every order is within its stage's deadline."));
      return;
    }
    const hint = el("p", "muted small", "Past the watchdog's deadline for their stage. Look at one with the command shown.");
    body.replaceChildren(hint, table("Stuck orders, oldest first", [
      { label: "Order" }, { label: "Stage" }, { label: "Waiting" }, { label: "Since" }, { label: "Look" },
    ], stuck.map((order) => {
      const stage = el("span", "status-badge", order.status);
      stage.dataset.status = order.status;
      return [orderLink(order.order_id, "#" + order.number), stage, formatAge(order.age_seconds), timeEl(order.waiting_since), code(order.command)];
    }), "stuck-table"));
  }

  function drawDisputes(disputes) {
    const body = document.getElementById("disputes-body");
    if (disputes.source !== "stripe") {
      document.getElementById("disputes-count").textContent = "";
      body.replaceChildren(el("p", "muted", "Unknown: " + (disputes.hint || disputes.error || "")));
      return;
    }
    const open = disputes.open || [];
    document.getElementById("disputes-count").textContent = "(" + open.length + ")";
    if (open.length === 0) {
      body.replaceChildren(el("p", "all-clear", "No open disputes."));
      return;
    }
    const now = Date.now();
    body.replaceChildren(table("Open disputes", [
      { label: "Due" }, { label: "Amount", className: "num" }, { label: "Reason" }, { label: "Order" },
      { label: "Evidence" }, { label: "Next step" },
    ], open.map((d) => {
      const due = el("span");
      if (d.due_by) {
        const left = new Date(d.due_by).getTime() - now;
        const days = left < 0 ? -1 : Math.ceil(left / 86400000);
        due.append(timeEl(d.due_by), el("span", days < 3 ? "severity-text is-security" : "muted",
          days < 0 ? " (past)" : " (in " + days + (days === 1 ? " day)" : " days)")));
      } else {
        due.textContent = "no due date";
      }
      const evidence = d.submitted ? "submitted" : d.evidence_drafted ? "drafted, not submitted" : "none";
      const order = d.order_id ? orderLink(d.order_id, "#" + d.order_number) : el("span", "muted", "not ours");
      const next = d.command ? code(d.command) : el("span", "muted", d.submitted ? "wait for the bank" : "answer in the Stripe dashboard");
      return [due, formatMoney(d.amount), d.reason, order, evidence, next];
    }), "disputes-table"));
  }

  function drawAlarms(alarms) {
    const body = document.getElementById("alarms-body");
    const count = document.getElementById("alarms-count");
    count.textContent = "";
    switch (alarms.source) {
      case "not_in_dev":
        body.replaceChildren(el("p", "muted", "Unknown in backroom dev: CloudWatch alarms exist only in the deployed stack."));
        return;
      case "not_configured":
        body.replaceChildren(el("p", "muted", "Unknown: " + alarms.hint));
        return;
      case "unavailable":
        body.replaceChildren(el("p", "error", "Unknown: could not read the " + alarms.prefix + "* alarms: " + alarms.error));
        return;
      default: {
        const list = alarms.alarms || [];
        const firing = list.filter((a) => a.state === "ALARM").length;
        count.textContent = "(" + firing + " of " + list.length + " firing)";
        if (list.length === 0) {
          body.replaceChildren(el("p", "muted", "No alarm is named " + alarms.prefix + "* (is the stack name right?)"));
          return;
        }
        body.replaceChildren(table("The stack's alarms", [{ label: "State" }, { label: "Alarm" }, { label: "Since" }],
          list.map((a) => [el("span", a.state === "ALARM" ? "severity-text is-security" : a.state === "OK" ? "ok-text" : "muted", a.state),
            el("span", "mono id", a.name), a.since ? timeEl(a.since) : ""])));
      }
    }
  }

  function drawSummary(data) {
    mode = data.mode || "dev";
    document.getElementById("sales-body").replaceChildren(...salesChart(data.days || []));
    drawStuck(data.stuck || []);
    drawDisputes(data.disputes || {});
    drawAlarms(data.alarms || {});
  }

  const SECTIONS = [
    // First: it tells the mode, which the other sections' order links follow.
    { path: "/admin/api/summary", draw: drawSummary, body: ["sales-body", "stuck-body", "disputes-body", "alarms-body"] },
    { path: "/admin/api/events", draw: drawEvents, body: "events-body" },
    { path: "/admin/api/orders", draw: drawOrders, body: "orders-body" },
    { path: "/admin/api/alerts", draw: drawAlerts, body: "alerts-body" },
    { path: "/admin/api/dlq", draw: drawDlq, body: "dlq-body" },
    { path: "/admin/api/reconcile", draw: drawReconcile, body: "reconcile-body" },
  ];

  // Fetches the sections side by side; one failing endpoint only blanks its own
  // section, so the rest of the page stays useful while something is broken.
  async function refresh() {
    // "Refresh now" during a refresh would otherwise start a second timer chain.
    if (refreshing) return;
    refreshing = true;
    clearTimeout(timer);
    const results = await Promise.allSettled(SECTIONS.map((section) => getJson(section.path)));
    let failures = 0;
    let forbidden = false;
    results.forEach((result, index) => {
      const section = SECTIONS[index];
      if (result.status === "fulfilled") {
        const json = JSON.stringify(result.value);
        if (lastDrawn[section.path] !== json) {
          lastDrawn[section.path] = json;
          section.draw(result.value);
        }
      } else {
        failures += 1;
        if (result.reason.status === 403) forbidden = true;
        lastDrawn[section.path] = null;
        for (const id of [].concat(section.body)) {
          document.getElementById(id).replaceChildren(el("p", "error", "Could not load: " + result.reason.message));
        }
      }
    });

    const banner = document.getElementById("admin-error");
    if (forbidden) {
      banner.textContent = "The owner page only answers on the machine backroom runs on (127.0.0.1).";
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    const now = new Date().toLocaleTimeString();
    document.getElementById("updated").textContent = failures
      ? "Updated " + now + " with " + failures + " section(s) failing; retrying every 5 s."
      : "Updated " + now + "; refreshes every 5 s.";
    // The next refresh is scheduled once this one is done, so requests never overlap.
    refreshing = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }

  document.getElementById("refresh-now").addEventListener("click", refresh);
  refresh();
})();
