// The demo storefront for backroom: it shows how any static site can sell through
// backroom's HTTP API. This file has the shared helpers (used by success.js as well)
// and the storefront page itself. No framework and no build step: it is meant to be read.
"use strict";

// Where backroom's API lives. Empty means "the same origin as this page", which is how
// `backroom dev` serves it. A storefront hosted elsewhere sets the full origin here, for
// example "https://api.shop.example", and backroom must then allow that origin (CORS,
// STOREFRONT_ORIGIN).
const API_BASE = "";

// The cart survives reloads and the round trip to the payment page in localStorage.
const CART_KEY = "backroom.cart";
// The order id of the last checkout we started, so that the success page can tell
// whether the cart it sees is the one that has just been paid for.
const PENDING_ORDER_KEY = "backroom.pendingOrder";
// The API accepts 1 to 10 of each item per order.
const MAX_QUANTITY = 10;

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

// An error from the API, carrying backroom's machine-readable code and, when the
// problem is one input, the name of that input (for example "items[0].sku" or "email").
class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

// Calls the API and returns the parsed JSON body. Every failure becomes an ApiError
// with a message fit to show a buyer, because backroom's errors are written for humans
// but a proxy or a dropped connection may answer with something that is not JSON at all.
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(API_BASE + path, {
      ...options,
      headers: { Accept: "application/json", ...(options.headers || {}) },
    });
  } catch (networkError) {
    throw new ApiError(0, "network", "We could not reach the shop. Please check your connection and try again.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (notJson) {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error;
    if (error && error.message) {
      throw new ApiError(response.status, error.code, error.message, error.field);
    }
    throw new ApiError(response.status, "http_" + response.status, "Something went wrong on our side (HTTP " + response.status + "). Please try again in a moment.");
  }
  return body;
}

// Formatters are cached because building an Intl.NumberFormat is comparatively slow
// and the same one or two currencies are formatted many times per render.
const moneyFormats = new Map();

// Formats {amount, currency}, where amount is in minor units (2800 EUR = 28.00 EUR).
// The number of minor-unit digits comes from Intl itself, so that currencies without
// cents (JPY) or with three digits (KWD) come out right too.
function formatMoney(money) {
  let format = moneyFormats.get(money.currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: "currency", currency: money.currency });
    moneyFormats.set(money.currency, format);
  }
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(money.amount / 10 ** digits);
}

// Formats an RFC 3339 timestamp in the reader's own locale and time zone, and falls
// back to the raw text if the server ever sends something Date cannot parse.
function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// Creates an element with a class and text. Text always goes through textContent,
// never innerHTML, so that nothing the server sends can be interpreted as markup.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Reads the cart as a list of {sku, quantity}. A damaged entry (edited by hand, or
// written by an older version of this page) is dropped rather than breaking the page.
function loadCart() {
  try {
    const lines = JSON.parse(localStorage.getItem(CART_KEY) || "[]");
    if (!Array.isArray(lines)) return [];
    return lines
      .filter((line) => line && typeof line.sku === "string" && Number.isInteger(line.quantity))
      .map((line) => ({ sku: line.sku, quantity: clampQuantity(line.quantity, MAX_QUANTITY) }));
  } catch (unreadable) {
    return [];
  }
}

function saveCart(lines) {
  localStorage.setItem(CART_KEY, JSON.stringify(lines));
}

// Keeps a quantity within 1..max; anything that is not a number becomes 1.
function clampQuantity(value, max) {
  const number = Math.floor(Number(value));
  if (!Number.isFinite(number) || number < 1) return 1;
  return Math.min(number, max);
}

// ---------------------------------------------------------------------------
// Storefront (index.html)
// ---------------------------------------------------------------------------

// Everything the storefront knows: the catalog as last fetched, and the cart.
const shop = {
  products: [],
  // sku -> {product, variant}, to show cart lines with names and prices.
  variants: new Map(),
  cart: [],
  catalogLoaded: false,
  // The sku of the cart line the last checkout error was about, so that redraws of
  // the cart keep it marked until the buyer changes something.
  errorSku: null,
};

// The largest quantity of one variant a buyer may put in the cart: the API's limit,
// or fewer when a limited edition has fewer pieces left.
function maxQuantityFor(variant) {
  if (variant && variant.stock_left !== null && variant.stock_left !== undefined) {
    return Math.max(1, Math.min(MAX_QUANTITY, variant.stock_left));
  }
  return MAX_QUANTITY;
}

async function loadCatalog() {
  const status = document.getElementById("catalog-status");
  try {
    const catalog = await api("/catalog");
    shop.products = catalog.products || [];
    shop.variants = new Map();
    for (const product of shop.products) {
      for (const variant of product.variants) {
        shop.variants.set(variant.sku, { product, variant });
      }
    }
    shop.catalogLoaded = true;
    status.hidden = true;
    renderProducts();
    renderCart();
  } catch (error) {
    status.hidden = false;
    status.textContent = "The shop could not be loaded: " + error.message;
  }
}

function renderProducts() {
  const list = document.getElementById("products");
  // Remember which size each card had selected, so that a catalog refresh (after an
  // out-of-stock error, say) does not undo the buyer's choice.
  const selected = {};
  for (const select of list.querySelectorAll("select")) {
    selected[select.dataset.slug] = select.value;
  }
  list.replaceChildren(...shop.products.map((product) => productCard(product, selected[product.slug])));
}

function productCard(product, previouslySelectedSku) {
  const card = el("li", "product");
  card.setAttribute("data-testid", "product-" + product.slug);

  // A simple CSS drawing stands in for a photo, so the page needs no images at all.
  const art = el("div", "art");
  art.dataset.slug = product.slug;
  art.setAttribute("aria-hidden", "true");
  card.append(art);

  const titleId = "title-" + product.slug;
  const title = el("h3", "product-name", product.name);
  title.id = titleId;
  card.append(title, el("p", "product-description", product.description));

  const form = el("form", "product-form");
  form.setAttribute("aria-labelledby", titleId);

  const selectId = "size-" + product.slug;
  const label = el("label", null, "Size");
  label.htmlFor = selectId;
  const select = el("select");
  select.id = selectId;
  select.dataset.slug = product.slug;
  select.setAttribute("data-testid", "size-" + product.slug);
  for (const variant of product.variants) {
    const option = el("option", null, variant.in_stock ? variant.size : variant.size + " (sold out)");
    option.value = variant.sku;
    option.disabled = !variant.in_stock;
    select.append(option);
  }
  // Start on the size chosen before, else on the first size that can still be bought
  // (or simply the first size when everything is sold out, so the select is not blank).
  const firstInStock = product.variants.find((variant) => variant.in_stock);
  const keep = product.variants.find((variant) => variant.sku === previouslySelectedSku && variant.in_stock);
  const start = keep || firstInStock || product.variants[0];
  if (start) select.value = start.sku;

  const price = el("p", "price");
  const stock = el("p", "stock");
  stock.setAttribute("aria-live", "polite");
  const add = el("button", "add", "Add to cart");
  add.type = "submit";
  add.setAttribute("data-testid", "add-" + product.slug);

  // Price and stock belong to the chosen size, so they are redrawn when it changes.
  function showVariant() {
    const entry = shop.variants.get(select.value);
    const variant = entry ? entry.variant : product.variants[0];
    price.textContent = formatMoney(variant.price);
    if (!firstInStock) {
      stock.textContent = "Sold out";
    } else if (variant.stock_left !== null && variant.stock_left !== undefined && variant.in_stock) {
      stock.textContent = variant.stock_left + " left";
    } else {
      stock.textContent = "";
    }
    add.disabled = !variant.in_stock;
    add.textContent = variant.in_stock ? "Add to cart" : "Sold out";
  }
  select.addEventListener("change", showVariant);
  showVariant();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    addToCart(select.value);
  });

  const row = el("div", "size-row");
  row.append(label, select);
  form.append(row, price, stock, add);
  card.append(form);
  return card;
}

function addToCart(sku) {
  const entry = shop.variants.get(sku);
  if (!entry || !entry.variant.in_stock) return;
  const line = shop.cart.find((existing) => existing.sku === sku);
  const max = maxQuantityFor(entry.variant);
  if (line) {
    line.quantity = Math.min(line.quantity + 1, max);
  } else {
    shop.cart.push({ sku, quantity: 1 });
  }
  saveCart(shop.cart);
  clearError();
  renderCart();
  announce(entry.product.name + " (" + entry.variant.size + ") added to the cart.");
}

function setQuantity(sku, value) {
  const line = shop.cart.find((existing) => existing.sku === sku);
  if (!line) return;
  const entry = shop.variants.get(sku);
  line.quantity = clampQuantity(value, maxQuantityFor(entry && entry.variant));
  saveCart(shop.cart);
  clearError();
  renderCart();
}

function removeFromCart(sku) {
  const entry = shop.variants.get(sku);
  shop.cart = shop.cart.filter((line) => line.sku !== sku);
  saveCart(shop.cart);
  clearError();
  renderCart();
  announce((entry ? entry.product.name : sku) + " removed from the cart.");
  // The removed line's button is gone; keep keyboard focus inside the cart.
  document.getElementById("cart-heading").focus();
}

function renderCart() {
  const list = document.getElementById("cart-lines");
  const empty = document.getElementById("cart-empty");
  const totalRow = document.getElementById("cart-total");
  const checkout = document.getElementById("checkout");

  // Once the catalog is known, drop lines for products the shop no longer sells:
  // the checkout would only reject them.
  if (shop.catalogLoaded) {
    const known = shop.cart.filter((line) => shop.variants.has(line.sku));
    if (known.length !== shop.cart.length) {
      shop.cart = known;
      saveCart(shop.cart);
    }
  }

  list.replaceChildren(...shop.cart.map(cartLine));
  empty.hidden = shop.cart.length > 0;
  checkout.disabled = shop.cart.length === 0 || checkout.getAttribute("aria-busy") === "true";

  // Sum per currency: the demo catalog is all EUR, but nothing in the API promises that.
  const totals = new Map();
  for (const line of shop.cart) {
    const entry = shop.variants.get(line.sku);
    if (!entry) continue;
    const { amount, currency } = entry.variant.price;
    totals.set(currency, (totals.get(currency) || 0) + amount * line.quantity);
  }
  const count = shop.cart.reduce((sum, line) => sum + line.quantity, 0);
  document.getElementById("cart-count").textContent = count === 1 ? "1 item" : count + " items";
  document.getElementById("header-count").textContent = "(" + count + ")";
  totalRow.hidden = totals.size === 0;
  document.getElementById("cart-total-amount").textContent = [...totals]
    .map(([currency, amount]) => formatMoney({ amount, currency }))
    .join(" + ");
}

function cartLine(line) {
  const entry = shop.variants.get(line.sku);
  const item = el("li", line.sku === shop.errorSku ? "cart-line has-error" : "cart-line");
  item.setAttribute("data-testid", "cart-line-" + line.sku);
  item.dataset.sku = line.sku;

  const name = entry ? entry.product.name : line.sku;
  const details = el("div", "cart-line-details");
  details.append(el("span", "cart-line-name", name));
  if (entry) {
    details.append(el("span", "cart-line-size", entry.variant.size));
    details.append(el("span", "cart-line-price", formatMoney({
      amount: entry.variant.price.amount * line.quantity,
      currency: entry.variant.price.currency,
    })));
    if (!entry.variant.in_stock) details.append(el("span", "cart-line-warning", "Sold out: please remove"));
  }

  const quantityId = "qty-" + line.sku;
  const label = el("label", "visually-hidden", "Quantity of " + name + (entry ? ", " + entry.variant.size : ""));
  label.htmlFor = quantityId;
  const quantity = el("input", "quantity");
  quantity.id = quantityId;
  quantity.type = "number";
  quantity.inputMode = "numeric";
  quantity.min = "1";
  quantity.max = String(maxQuantityFor(entry && entry.variant));
  quantity.value = String(line.quantity);
  quantity.setAttribute("data-testid", "qty-" + line.sku);
  if (line.sku === shop.errorSku) quantity.setAttribute("aria-invalid", "true");
  // "change" rather than "input": re-rendering on every keystroke would steal the
  // caret while someone is still typing "10".
  quantity.addEventListener("change", () => {
    setQuantity(line.sku, quantity.value);
    document.getElementById(quantityId).focus();
  });

  const remove = el("button", "remove", "Remove");
  remove.type = "button";
  remove.setAttribute("aria-label", "Remove " + name + (entry ? ", " + entry.variant.size : ""));
  remove.setAttribute("data-testid", "remove-" + line.sku);
  remove.addEventListener("click", () => removeFromCart(line.sku));

  const controls = el("div", "cart-line-controls");
  controls.append(label, quantity, remove);
  item.append(details, controls);
  return item;
}

// Starts the payment: backroom writes the order, asks the payment provider for a
// checkout page and answers with its address, which we then send the browser to.
async function checkout(event) {
  event.preventDefault();
  const button = document.getElementById("checkout");
  const email = document.getElementById("email").value.trim();
  if (shop.cart.length === 0) return;

  clearError();
  button.setAttribute("aria-busy", "true");
  button.disabled = true;
  button.textContent = "Starting checkout…";

  const body = { items: shop.cart.map((line) => ({ sku: line.sku, quantity: line.quantity })) };
  // The email is optional; the payment page asks for it again if it is left out.
  if (email) body.email = email;

  try {
    const order = await api("/checkout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    localStorage.setItem(PENDING_ORDER_KEY, order.order_id);
    // assign() rather than replace(): the Back button on the payment page should
    // bring the buyer back to this cart.
    window.location.assign(order.checkout_url);
    // The button stays busy: the browser is leaving the page.
  } catch (error) {
    button.removeAttribute("aria-busy");
    button.textContent = "Checkout";
    showError(error);
    // Stock may have changed under us (409 out_of_stock): show what is left now.
    if (error.status === 409 || error.status === 404) loadCatalog();
  }
}

// Shows an API error next to the cart and, when it names one input, marks that input
// so the buyer (and a screen reader) can tell which one is at fault.
function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error.message;
  box.hidden = false;
  // "items[2].quantity" means the third line we sent, which is the third cart line.
  const match = /^items\[(\d+)\]/.exec(error.field || "");
  const line = match ? shop.cart[Number(match[1])] : null;
  shop.errorSku = line ? line.sku : null;
  if (error.field === "email") {
    document.getElementById("email").setAttribute("aria-invalid", "true");
  }
  renderCart();
}

function clearError() {
  const box = document.getElementById("error");
  box.hidden = true;
  box.textContent = "";
  document.getElementById("email").removeAttribute("aria-invalid");
  shop.errorSku = null;
}

// Speaks short confirmations ("added to the cart") to screen readers.
function announce(message) {
  const region = document.getElementById("announcer");
  // Clearing first and writing a moment later makes screen readers announce the
  // message even when it is the same as the previous one ("added" twice in a row).
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 50);
}

// A buyer who cancels on the payment page comes back to /?canceled=<order_id>.
// Nothing was charged, and the cart is still here, so say just that.
function showCanceledNote() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("canceled")) return;
  const note = document.getElementById("canceled-note");
  note.hidden = false;
  document.getElementById("canceled-dismiss").addEventListener("click", () => { note.hidden = true; });
  if (localStorage.getItem(PENDING_ORDER_KEY) === params.get("canceled")) {
    localStorage.removeItem(PENDING_ORDER_KEY);
  }
  // Tidy the address bar so that a reload does not show the note again.
  params.delete("canceled");
  const query = params.toString();
  history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
}

function startStorefront() {
  shop.cart = loadCart();
  document.getElementById("cart-form").addEventListener("submit", checkout);
  showCanceledNote();
  renderCart();
  loadCatalog();
  // Another tab may change the cart; follow it so both tabs agree.
  window.addEventListener("storage", (event) => {
    if (event.key === CART_KEY) {
      shop.cart = loadCart();
      renderCart();
    }
  });
}

// This file is also loaded by the success page for its helpers; only the storefront
// page has a product list.
if (document.getElementById("products")) startStorefront();
