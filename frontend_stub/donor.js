// Donors: offers (quantity, travel radius, available until), suggestions for each offer with the score's
// reasons in plain words, the instant-help switch, incoming instant-help requests, and reports.
import { gql } from "./api.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { $, URGENT, banner, h, km, needMeta, payloadOk, run, showErrors, startLoad } from "./ui.js";

const Q = {
  myOffers: `{ myOffers(first: 20) { edges { node { id title category quantity quantityPledged unit radiusMeters
    availableUntil status exactLocation { lat lon } } } } }`,
  createOffer: `mutation ($input: CreateOfferInput!) { createOffer(input: $input) { offer { id } errors { field message code } } }`,
  withdraw: `mutation ($id: ID!) { withdrawOffer(input: {offerId: $id}) { offer { id } errors { field message code } } }`,
  suggested: `query ($id: ID!) { suggestedNeeds(offerId: $id, first: 5) { distanceMeters score
    parts { distance urgency waiting quantity fairness }
    need { id title category quantity quantityPledged quantityDelivered unit urgency householdSize createdAt status } } }`,
  pledge: `mutation ($input: PledgeInput!) { pledge(input: $input) { pledge { id } errors { field message code } } }`,
  availability: "{ myAvailability { available } }",
  // Pending asks come back from the API on load: HELP_ASKED alone was lost with a reload.
  asks: `{ myHelpAsks { id status round need { id title category urgency quantity quantityPledged unit approximateLocation { lat lon } } } }`,
  setAvailability: `mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) {
    availability { available } errors { field message code } } }`,
  accept: `mutation ($id: ID!) { acceptHelpRequest(input: {helpRequestId: $id}) { pledge { id } errors { field message code } } }`,
  report: `mutation ($input: ReportNeedInput!) { reportNeed(input: $input) { reported errors { field message code } } }`,
};
let ctx;

export function init(context) {
  ctx = context;
  $("#offer-form").addEventListener("submit", postOffer);
  $("#offer-category").addEventListener("change", () => ($("#offer-unit").value = i18n.unitFor($("#offer-category").value)));
  $("#availability").addEventListener("change", setAvailability);
}

export function load() {
  loadOffers();
  loadAvailability();
  loadAsks();
}

/** The "I want to help" tab carries a dot while an ask waits there (it may arrive on another view). */
function markTab() {
  const waiting = document.querySelectorAll("#help-asks [data-ask]").length > 0;
  const tab = document.querySelector('.tab[data-view="help"]');
  if (waiting) tab.dataset.alert = "1";
  else delete tab.dataset.alert;
  if (waiting && ctx.state.view !== "help") banner(`🔔 ${t("helpAsked")}`);
}

/** The instant-help requests I am asked and nobody has answered yet (myHelpAsks): after a reload too. */
export async function loadAsks() {
  const stale = startLoad("asks");
  const data = await gql(Q.asks).catch(() => null);
  if (!data || stale()) return;
  const pending = new Set(data.myHelpAsks.map((r) => r.id));
  for (const card of document.querySelectorAll("#help-asks [data-ask]")) if (!pending.has(card.dataset.ask)) card.remove();
  for (const request of data.myHelpAsks) showAsk(request);
  markTab();
}

/** Why a suggestion ranks: the score's parts as words a donor understands. */
export function reasons(suggestion) {
  const { parts, need, distanceMeters } = suggestion;
  const words = [];
  if (parts.distance >= 0.5) words.push(`${t("whyClose")} (${km(distanceMeters)})`);
  if (URGENT.includes(need.urgency)) words.push(t("whyUrgent"));
  const hours = (Date.now() - new Date(need.createdAt)) / 3600e3;
  if (hours >= 48) words.push(t("whyWaiting", { n: Math.floor(hours / 24) }));
  else if (hours >= 6) words.push(t("whyWaitingHours", { n: Math.floor(hours) }));
  if (parts.fairness >= 1) words.push(t("whyNotHelped"));
  if (parts.quantity >= 1) words.push(t("whyCovers"));
  return words;
}

async function loadOffers() {
  const stale = startLoad("offers");
  const data = await run("offer", () => gql(Q.myOffers));
  if (!data || stale()) return;
  const live = data.myOffers.edges.map((e) => e.node).filter((o) => o.status === "ACTIVE");
  $("#my-offers").replaceChildren(...live.map((offer) => {
    const list = h("ul", { class: "list suggestions" });
    const item = h("li", { class: "item", "data-offer": offer.id },
      h("header", {}, h("h3", {}, offer.title), h("span", { class: "badge" }, i18n.status(offer.status))),
      h("p", { class: "meta" }, h("span", {}, i18n.category(offer.category)),
        h("span", {}, `${offer.quantity - offer.quantityPledged}/${offer.quantity} ${offer.unit}`),
        h("span", {}, `≤ ${km(offer.radiusMeters)}`),
        h("span", {}, `${t("expiresOn")} ${new Date(offer.availableUntil).toLocaleDateString(i18n.lang())}`)),
      h("p", { class: "meta" }, t("suggestions")), list,
      h("div", { class: "pledge-row" }, h("button", { type: "button", class: "small danger",
        onclick: async () => { if (payloadOk(await run("offer", () => gql(Q.withdraw, { id: offer.id })))) loadOffers(); } }, t("withdraw"))));
    loadSuggestions(offer, list);
    return item;
  }));
}

async function loadSuggestions(offer, list) {
  const data = await run("offer", () => gql(Q.suggested, { id: offer.id }));
  if (!data) return;
  if (!data.suggestedNeeds.length) { list.replaceChildren(h("li", { class: "hint" }, t("noSuggestions"))); return; }
  list.replaceChildren(...data.suggestedNeeds.map((s) => {
    const need = s.need;
    const open = Math.max(1, Math.min(need.quantity - need.quantityPledged, offer.quantity - offer.quantityPledged));
    const error = h("p", { class: "field-error", role: "alert" });
    return h("li", { class: `item${URGENT.includes(need.urgency) ? " urgent" : ""}`, "data-suggested": need.id },
      h("header", {}, h("h3", {}, need.title), h("span", { class: "badge score" }, `${Math.round(s.score * 100)}`)),
      needMeta(need),
      h("p", { class: "reasons" }, reasons(s).map((w) => h("span", { class: "reason" }, w))),
      h("div", { class: "pledge-row" }, h("button", { type: "button", class: "small primary", onclick: async () => {
        const result = await run("offer", () => gql(Q.pledge, { input: { needId: need.id, offerId: offer.id, quantity: open } }));
        if (payloadOk(result, error)) { banner(t("pledgedOk")); loadOffers(); ctx.loadMyPledges(); }
      } }, `${t("pledge")} ${open} ${need.unit}`)), error);
  }));
}

async function postOffer(event) {
  event.preventDefault();
  const form = event.currentTarget; // gone from the event once an await has passed
  const f = Object.fromEntries(new FormData(form));
  const near = ctx.state.helpCenter;
  const input = { category: f.category, title: f.title, quantity: parseInt(f.quantity, 10) || 0, unit: f.unit,
    location: near, radiusMeters: (parseFloat(f.radiusKm) || 0) * 1000,
    ...(f.availableUntil ? { availableUntil: new Date(`${f.availableUntil}T23:59:00`).toISOString() } : {}) };
  const data = await run("offer", () => gql(Q.createOffer, { input }));
  if (!data) return;
  showErrors("offer", data.createOffer.errors);
  if (data.createOffer.errors.length) return;
  form.reset();
  ctx.fillSelects();
  banner(t("offerPosted"));
  loadOffers();
}

function showAvailability(on) {
  $("#availability").checked = on;
  $("#availability-text").textContent = t(on ? "availabilityOn" : "availabilityOff");
}

// Bumped by each tap on the switch: an answer asked for before it must not undo it (a quick tap
// after signing in flipped back when the first load came in late).
let availabilityChanges = 0;

async function loadAvailability() {
  const changes = availabilityChanges;
  const data = await gql(Q.availability).catch(() => null);
  if (changes !== availabilityChanges) return;
  showAvailability(Boolean(data && data.myAvailability && data.myAvailability.available));
}

async function setAvailability() {
  availabilityChanges += 1;
  const on = $("#availability").checked;
  const radius = parseFloat($("#help-radius").value) || 3000;
  const input = on ? { available: true, near: ctx.state.helpCenter, radiusMeters: radius } : { available: false };
  const result = await run("avail", () => gql(Q.setAvailability, { input }));
  if (payloadOk(result, $("#avail-error"))) showAvailability(on);
  else showAvailability(!on);
}

/** Instant-help requests arrive as activity events: a card with "Accept" until someone takes it. */
export function onActivity(event) {
  const request = event.helpRequest;
  if (!request) return;
  const existing = document.querySelector(`[data-ask="${request.id}"]`);
  if (event.kind !== "HELP_ASKED") { if (existing && request.status !== "OPEN") existing.remove(); markTab(); return; }
  if (request.status === "OPEN") showAsk(request);
  markTab();
}

/** One ask's card: what is needed and roughly where (its cell; the exact place only after accepting). */
function showAsk(request) {
  if (document.querySelector(`[data-ask="${request.id}"]`)) return;
  const need = request.need;
  const error = h("p", { class: "field-error", role: "alert" });
  const card = h("div", { class: "card ask", "data-ask": request.id, role: "alert" },
    h("h2", {}, `🔔 ${t("helpAsked")}`),
    h("p", {}, h("strong", {}, need.title), " · ", i18n.category(need.category), " · ", i18n.urgency(need.urgency)),
    h("p", { class: "meta" }, `${need.quantity - (need.quantityPledged || 0)} ${need.unit}`,
      need.approximateLocation ? ` · ≈ ${km(Math.max(100, Math.round(distance(ctx.state.helpCenter, need.approximateLocation) / 100) * 100))}` : ""),
    h("button", { type: "button", class: "primary wide", onclick: async () => {
      const result = await run("avail", () => gql(Q.accept, { id: request.id }));
      if (payloadOk(result, error)) { card.remove(); markTab(); banner(t("accepted")); ctx.loadMyPledges(); }
    } }, t("accept")), error);
  $("#help-asks").append(card);
}

/** Metres between two points (near enough for a city); shown to 100 m, like the list's distances. */
function distance(a, b) {
  const dLat = (b.lat - a.lat) * 111320, dLon = (b.lon - a.lon) * 111320 * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(dLat, dLon);
}

/** A report button that opens a reason box (reportNeed). */
export function reportButton(needId) {
  // A div, not a form: the need's card holds the pledge form, whose submit button stays the only one.
  const send = async () => {
    const reason = box.querySelector("input").value.trim();
    const result = await run("report", () => gql(Q.report, { input: { needId, reason } }));
    if (payloadOk(result, box.querySelector(".field-error"))) { box.hidden = true; banner(t("reported")); }
  };
  const box = h("div", { class: "report", hidden: true, "data-keep-open": "report" },
    h("input", { name: "reason", "aria-label": t("reportReason"), placeholder: t("reportReason"), maxlength: 500,
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); send(); } } }),
    h("button", { type: "button", class: "small danger send-report", onclick: send }, t("report")),
    h("p", { class: "field-error", role: "alert" }));
  const toggle = h("button", { type: "button", class: "link report-toggle", onclick: () => { box.hidden = !box.hidden; } }, `⚑ ${t("report")}`);
  return h("div", {}, toggle, box);
}
