// Small helpers every part of the page shares: DOM building, feedback, payload errors, need badges.
import { ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";

export const $ = (selector) => document.querySelector(selector);

/** Build DOM from data (text is always set as text: user content can never become markup). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Live events can start several reloads of one list at once; only the newest may draw,
// or an older answer (fetched before the latest message) would overwrite a newer one.
const generations = {};
export function startLoad(key) {
  const mine = (generations[key] = (generations[key] || 0) + 1);
  return () => generations[key] !== mine;
}

/**
 * Redraw a list of needs from new data, keeping what the person was doing in it: live events redraw
 * lists while people type. An item drawn from the same data as before ([data-sig]) is not touched:
 * what is typed in it, the caret, an IME composition (Telex) and the focus stay as they are. An item
 * whose data changed is drawn afresh, keeping each field's typed value, the boxes marked
 * [data-keep-open] that are open, and the field with the keyboard focus (a phone's keyboard stays up).
 */
export function redrawKeeping(list, children) {
  const before = new Map([...list.querySelectorAll(":scope > [data-need]")].map((item) => [item.dataset.need, item]));
  const next = children.map((child) => {
    const was = child.dataset && before.get(child.dataset.need);
    return was && was.dataset.sig !== undefined && was.dataset.sig === child.dataset.sig ? was : child;
  });
  const kept = new Map();
  for (const [id, item] of before) {
    if (next.includes(item)) continue;
    // A closed box's fields are not kept: reopened, it shows the need as it is now.
    const typed = [...item.querySelectorAll("input[name], textarea[name]")]
      .filter((f) => f.value !== f.defaultValue && !f.closest("[hidden]"));
    const open = [...item.querySelectorAll("[data-keep-open]")].filter((box) => !box.hidden);
    kept.set(id, { typed: typed.map((f) => [f.name, f.value]), open: open.map((box) => box.dataset.keepOpen) });
  }
  const active = document.activeElement;
  const holder = active && active.name && list.contains(active) ? active.closest("[data-need]") : null;
  // Items kept stay where they are (moving one would take its focus); the rest go or come in place.
  const wanted = new Set(next);
  for (const child of [...list.children]) if (!wanted.has(child)) child.remove();
  next.forEach((child, i) => { if (list.children[i] !== child) list.insertBefore(child, list.children[i] || null); });
  for (const item of next) {
    const was = kept.get(item.dataset && item.dataset.need);
    if (!was) continue;
    for (const name of was.open) { const box = item.querySelector(`[data-keep-open="${CSS.escape(name)}"]`); if (box) box.hidden = false; }
    for (const [name, value] of was.typed) { const field = item.querySelector(`[name="${CSS.escape(name)}"]`); if (field) field.value = value; }
  }
  if (holder && !active.isConnected) {
    const field = inItem(list, holder.dataset.need, `[name="${CSS.escape(active.name)}"]`);
    if (field && !field.closest("[hidden]")) field.focus();
  }
}

/** The element of a need's item in the list as drawn now (a live redraw may have replaced the one a
 * handler was made with while it awaited an answer), else the fallback. */
export function inItem(list, needId, selector, fallback = null) {
  return list.querySelector(`[data-need="${CSS.escape(needId)}"] ${selector}`) || fallback;
}

export function banner(text) {
  const node = $("#banner");
  node.textContent = text;
  node.hidden = !text;
  clearTimeout(banner.timer);
  if (text) banner.timer = setTimeout(() => (node.hidden = true), 6000);
}

/** Show payload errors next to their fields (prefix-field-error), the rest in the form's error line. */
export function showErrors(prefix, errors) {
  for (const node of document.querySelectorAll(`[id^="${prefix}-"][id$="-error"]`)) node.textContent = "";
  for (const input of document.querySelectorAll(`[id^="${prefix}-"][aria-invalid]`)) input.removeAttribute("aria-invalid");
  const rest = [];
  for (const error of errors) {
    const slot = error.field && document.getElementById(`${prefix}-${error.field}-error`);
    if (slot) {
      slot.textContent = error.message;
      const input = slot.previousElementSibling;
      if (input && input.matches("input, textarea, select")) input.setAttribute("aria-invalid", "true");
    } else rest.push(error.message);
  }
  const general = document.getElementById(`${prefix}-error`);
  if (general) general.textContent = rest.join(" ");
}

export async function run(prefix, action) {
  try {
    return await action();
  } catch (error) {
    showErrors(prefix, error instanceof ApiError ? error.errors : [{ message: String(error.message || error) }]);
    return null;
  }
}

/** The payload's errors as one line in `slot` (an element), or true when there were none. */
export function payloadOk(result, slot) {
  const errors = result ? Object.values(result)[0].errors || [] : [{ message: "" }];
  if (slot) slot.textContent = errors.map((e) => e.message).join(" ");
  return result && !errors.length;
}

export const km = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);
export const URGENT = ["HIGH", "CRITICAL"];

export function needMeta(node) {
  return h("p", { class: "meta" },
    h("span", {}, i18n.category(node.category)),
    h("span", {}, `${t("needed")}: ${node.quantity} ${node.unit}`),
    node.householdSize ? h("span", {}, `${node.householdSize} ${t("households")}`) : null,
    node.quantityPledged ? h("span", {}, `${t("pledged")}: ${node.quantityPledged}`) : null,
    node.quantityDelivered ? h("span", {}, `${t("delivered")}: ${node.quantityDelivered}`) : null,
  );
}

export function badges(node) {
  return h("span", { class: "badges" },
    URGENT.includes(node.urgency) ? h("span", { class: `badge urgency-${node.urgency}` }, i18n.urgency(node.urgency)) : null, " ",
    h("span", { class: `badge ${node.status}`, "data-status": node.status }, i18n.status(node.status)));
}

/** A pledge's badge: its own status words ("pledged"), never the need's ("fully pledged"). */
export function pledgeBadge(status) {
  return h("span", { class: `badge ${status === "PLEDGED" ? "PLEDGED_OK" : status}`, "data-status": status }, i18n.pledgeStatus(status));
}

export function verified(node) {
  return node.verification ? h("p", { class: "verified" }, `✓ ${t("verifiedBy")} ${node.verification.area ? node.verification.area.name : ""}`) : null;
}

/** The place the person last used (a search, a need, a pick): where the page opens next time. */
export const place = {
  get() {
    try { return JSON.parse(localStorage.getItem("aidmap.place")) || null; } catch { return null; }
  },
  set(point) { localStorage.setItem("aidmap.place", JSON.stringify({ lat: +point.lat, lon: +point.lon })); },
};

export function geolocate(onPoint) {
  if (!navigator.geolocation) return banner(t("geoUnavailable"));
  navigator.geolocation.getCurrentPosition(
    (p) => onPoint({ lat: +p.coords.latitude.toFixed(6), lon: +p.coords.longitude.toFixed(6) }),
    () => banner(t("geoUnavailable")), { timeout: 8000 });
}
