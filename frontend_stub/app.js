// aidmap's reference page. Plain ES modules, no build step: everything is served by aidmap itself.
import { LiveSocket, gql, session } from "./api.js";
import * as donor from "./donor.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { SvgMap } from "./map.js";
import * as operator from "./operator.js";
import { placeFinder } from "./place.js";
import { $, URGENT, badges, banner, geolocate, h, inItem, km, needMeta, payloadOk, place, pledgeBadge, redrawKeeping, run, showErrors, startLoad, verified } from "./ui.js";

const HANOI = { lat: 21.0285, lon: 105.8542 };

export const NEED_FIELDS = `id title details category status quantity quantityPledged quantityDelivered unit urgency
  householdSize createdAt isMine approximateLocation { lat lon } verification { area { name } }`;
const Q = {
  me: "{ me { id displayName roles } }",
  signIn: "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { field message code } } }",
  signUp: "mutation ($input: SignUpInput!) { signUp(input: $input) { token errors { field message code } } }",
  myNeeds: `{ myNeeds(first: 50) { edges { node { ${NEED_FIELDS} rejectedReason expiresAt filedByMe contactPhone
    pledges { id quantity status acceptedAt markedDeliveredAt donor { displayName } } helpRequest { id status round createdAt } } } } }`,
  updateNeed: `mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { need { id } errors { field message code } } }`,
  cancelNeed: `mutation ($id: ID!) { cancelNeed(input: {needId: $id}) { need { id } errors { field message code } } }`,
  renewNeed: `mutation ($id: ID!) { renewNeed(input: {needId: $id}) { need { id } errors { field message code } } }`,
  helpNow: `mutation ($id: ID!) { requestHelpNow(input: {needId: $id}) { helpRequest { id status } errors { field message code } } }`,
  createNeed: `mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } errors { field message code } } }`,
  needs: `query ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!], $order: NeedOrder!, $urgencies: [Urgency!]) {
    needs(near: $near, radiusMeters: $radius, categories: $categories, first: 50, orderBy: $order, urgencies: $urgencies) {
      edges { distanceMeters node { ${NEED_FIELDS} } } } }`,
  areas: `query ($near: GeoPointInput!, $radius: Float!) { areas(near: $near, radiusMeters: $radius) {
    area { code name fullName } geojson } }`,
  pledge: `mutation ($input: PledgeInput!) { pledge(input: $input) { pledge { id } errors { field message code } } }`,
  myPledges: `{ myPledges(first: 50) { edges { node { id quantity status acceptedAt markedDeliveredAt
    collectionPoint { name address }
    need { id title unit status approximateLocation { lat lon } exactLocation { lat lon } contactPhone } } } } }`,
  // Matching rounds' proposals waiting for my answer, and what I carry as a collection point's manager.
  myProposals: `{ myProposals { id quantity collectionPoint { name address } need { id title unit urgency }
    offer { id title } } }`,
  acceptProposal: `mutation ($id: ID!) { acceptProposal(input: {proposalId: $id}) { errors { field message code } } }`,
  declineProposal: `mutation ($id: ID!) { declineProposal(input: {proposalId: $id}) { errors { field message code } } }`,
  myRelays: `{ myRelays { id quantity acceptedAt markedDeliveredAt collectionPoint { name }
    need { id title unit exactLocation { lat lon } contactPhone } } }`,
  messages: "query ($id: ID!) { messages(pledgeId: $id) { id body isMine sender { displayName } } }",
  send: `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { errors { field message code } } }`,
  confirm: `mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { field message code } } }`,
  acceptPledge: `mutation ($id: ID!) { acceptPledge(input: {pledgeId: $id}) { errors { field message code } } }`,
  cancelPledge: `mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { errors { field message code } } }`,
  markDelivered: `mutation ($id: ID!) { markDelivered(input: {pledgeId: $id}) { errors { field message code } } }`,
  queue: `{ verificationQueue(first: 50) { edges { node { ${NEED_FIELDS} exactLocation { lat lon } contactPhone
    details reports { reason } possibleDuplicateOf { id title } } } } }`,
  verify: `mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { field message code } } }`,
  reject: `mutation ($id: ID!, $reason: String!) { rejectNeed(input: {needId: $id, reason: $reason}) { errors { field message code } } }`,
  nearbyLive: `subscription ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!], $after: String) {
    needsNearby(near: $near, radiusMeters: $radius, categories: $categories, after: $after) {
      cursor kind distanceMeters need { ${NEED_FIELDS} } } }`,
  activity: `subscription ($after: String) { myActivity(after: $after) { cursor kind
    helpRequest { id status need { id title category urgency quantity quantityPledged unit approximateLocation { lat lon } } } } }`,
};

const state = {
  me: null,
  view: "need",
  needLocation: null,
  helpCenter: place.get() || { ...HANOI },
  cell: null, // "lat,lon" of a tapped cell: the list shows only its needs
  nearby: new Map(), // need id -> { node, distanceMeters }
  openChats: new Set(),
  drafts: new Map(), // pledge id -> unsent chat text: live updates redraw lists while people type
  stopNearby: null,
  prefilled: false, // the need form's phone and household were read back from my newest need
};

// ---------------------------------------------------------------- views
function show(view) {
  if (!state.me && view !== "auth") view = "auth";
  // A new view starts at its top: after signing up at the foot of the page the form opened scrolled.
  const shown = document.querySelector(".view:not([hidden])");
  if (!shown || shown.id !== `view-${view}`) window.scrollTo(0, 0);
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (view === "need") loadMyNeeds();
  if (view === "help") { searchNearby(); loadMyPledges(); }
  if (view === "verify") loadQueue();
  if (view === "help") donor.load();
  if (view === "operator") operator.load();
}

function renderAccount() {
  const me = state.me;
  $("#who").textContent = me ? me.displayName : "";
  $("#sign-out").hidden = !me;
  $(".tabs").hidden = !me;
  const reviewer = me && (me.roles.includes("VERIFIER") || me.roles.includes("ADMIN"));
  $('.tab[data-view="verify"]').hidden = !reviewer;
  $("#lang").textContent = i18n.lang() === "vi" ? "EN" : "VI";
}

function fillSelects() {
  const options = (select, values, label, all) => {
    const chosen = select.value;
    select.replaceChildren(...(all ? [h("option", { value: "" }, t("allCategories"))] : []),
      ...values.map((v) => h("option", { value: v }, label(v))));
    if (chosen) select.value = chosen;
  };
  options($("#need-category"), i18n.categories(), i18n.category);
  options($("#help-category"), i18n.categories(), i18n.category, true);
  options($("#need-urgency"), i18n.urgencies(), i18n.urgency);
  options($("#op-category"), i18n.categories(), i18n.category);
  options($("#op-urgency"), i18n.urgencies(), i18n.urgency);
  options($("#offer-category"), i18n.categories(), i18n.category);
  for (const id of ["#need-urgency", "#op-urgency"]) if (!$(id).dataset.touched) $(id).value = "NORMAL";
  for (const [id, key] of [["#my-needs", "noNeeds"], ["#nearby", "noNearby"], ["#my-pledges", "noPledges"], ["#queue", "noQueue"], ["#filed-needs", "noFiled"], ["#my-offers", "noOffers"]]) {
    $(id).dataset.empty = t(key);
  }
}

// ---------------------------------------------------------------- chat
async function chatBox(pledgeId) {
  const list = h("ol", { "aria-live": "polite" });
  const box = h("div", { class: "chat", "data-pledge": pledgeId }, list);
  const refresh = async () => {
    const data = await run("chat", () => gql(Q.messages, { id: pledgeId }));
    if (!data) return;
    list.replaceChildren(...data.messages.map((m) => h("li", {}, h("b", {}, m.isMine ? t("you") : m.sender.displayName), ": ", m.body)));
    list.scrollTop = list.scrollHeight;
  };
  const input = h("input", { "aria-label": t("message"), maxlength: 1000, name: "body" });
  input.value = state.drafts.get(pledgeId) || "";
  input.addEventListener("input", () => state.drafts.set(pledgeId, input.value));
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = input.value.trim() || (state.drafts.get(pledgeId) || "").trim();
      if (!body) return;
      const data = await run("chat", () => gql(Q.send, { input: { pledgeId, body } }));
      if (data && !data.sendMessage.errors.length) {
        state.drafts.delete(pledgeId);
        for (const field of document.querySelectorAll(`.chat[data-pledge="${pledgeId}"] input`)) field.value = "";
        refresh();
      }
    },
  }, input, h("button", { type: "submit", class: "small primary" }, t("send")));
  box.append(form);
  box.refresh = refresh;
  await refresh();
  return box;
}

function chatToggle(pledgeId, container) {
  return h("button", {
    type: "button", class: "small", "aria-expanded": String(state.openChats.has(pledgeId)),
    onclick: async (event) => {
      const open = !state.openChats.has(pledgeId);
      open ? state.openChats.add(pledgeId) : state.openChats.delete(pledgeId);
      event.currentTarget.setAttribute("aria-expanded", String(open));
      const existing = container.querySelector(`.chat[data-pledge="${pledgeId}"]`);
      if (existing) existing.remove();
      if (open) container.append(await chatBox(pledgeId));
    },
  }, t("chat"));
}

async function reopenChats(root, focused = null) {
  const boxes = [];
  for (const pledgeId of state.openChats) {
    const holder = root.querySelector(`[data-pledge-holder="${pledgeId}"]`);
    const drawn = holder && holder.querySelector(`.chat[data-pledge="${pledgeId}"]`);
    if (drawn) {
      boxes.push(drawn.refresh()); // a card kept by the redraw keeps its chat box: new messages only
    } else if (holder) {
      boxes.push(chatBox(pledgeId).then((box) => {
        holder.append(box);
        if (pledgeId === focused) box.querySelector("input").focus(); // keep typing where you were
      }));
    }
  }
  await Promise.all(boxes);
}

/** The pledge whose chat box has the keyboard focus (to give it back after a redraw). */
function focusedChat() {
  const box = document.activeElement && document.activeElement.closest && document.activeElement.closest(".chat");
  return box ? box.dataset.pledge : null;
}

// ---------------------------------------------------------------- I need help
let needMap;

async function loadMyNeeds() {
  const stale = startLoad("myNeeds");
  const data = await run("need", () => gql(Q.myNeeds));
  if (!data || stale()) return;
  const list = $("#my-needs");
  const focused = focusedChat();
  const own = data.myNeeds.edges.filter(({ node }) => !node.filedByMe).map(({ node }) => node);
  // After a reload the form still knows how to reach me and how many we are: from my newest need,
  // once per sign-in (a field the person cleared stays clear when the list refreshes).
  if (own.length && !state.prefilled) {
    state.prefilled = true;
    if (!$("#need-phone").value) $("#need-phone").value = own[0].contactPhone || "";
    if (!$("#need-household").value && own[0].householdSize) $("#need-household").value = own[0].householdSize;
  }
  redrawKeeping(list, own.map((node) => {
    const pledges = node.pledges.map((p) => {
      const holder = h("li", { class: "sub", "data-pledge-holder": p.id },
        h("div", { class: "pledge-row" },
          h("span", {}, `${p.donor.displayName}: ${p.quantity} ${node.unit}`),
          pledgeBadge(p.status),
          // The donor said they delivered it: the requester is the one who can say it arrived.
          p.status === "PLEDGED" && p.markedDeliveredAt ? h("span", { class: "hint donor-says-delivered" }, t("donorSaysDelivered")) : null,
          p.status === "PLEDGED" ? h("button", {
            type: "button", class: "small primary",
            onclick: async () => { if (await run("need", () => gql(Q.confirm, { id: p.id }))) loadMyNeeds(); },
          }, t("confirmDelivery")) : null,
          // AIDMAP_DISCLOSE_ON=accept: the donor sees the address and phone only once the requester accepts.
          p.status === "PLEDGED" && !p.acceptedAt ? h("button", {
            type: "button", class: "small",
            onclick: async () => { if (await run("need", () => gql(Q.acceptPledge, { id: p.id }))) loadMyNeeds(); },
          }, t("acceptPledge")) : null));
      holder.querySelector(".pledge-row").append(chatToggle(p.id, holder));
      return holder;
    });
    return h("li", { class: `item${URGENT.includes(node.urgency) ? " urgent" : ""}`, "data-need": node.id, "data-sig": JSON.stringify([i18n.lang(), node]) },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      needMeta(node), verified(node),
      node.rejectedReason ? h("p", { class: "form-error" }, node.rejectedReason) : null,
      needActions(node),
      h("p", { class: "meta" }, t("pledgesOnNeed")),
      pledges.length ? h("ul", { class: "list" }, pledges) : h("p", { class: "hint" }, t("noPledgesYet")));
  }));
  await reopenChats(list, focused);
}

/** Edit, cancel, renew ("still need help?") and "request help now" on one of my needs. */
function needActions(node) {
  const live = ["OPEN", "PARTLY_PLEDGED", "PLEDGED", "EXPIRED", "PENDING_VERIFICATION"].includes(node.status);
  if (!live) return null;
  const error = h("p", { class: "field-error need-error", role: "alert" });
  const list = $("#my-needs");
  const act = async (query, variables, done) => {
    const result = await run("need", () => gql(query, variables));
    // Said where the need is drawn now: a live redraw may have replaced this card meanwhile.
    if (payloadOk(result, inItem(list, node.id, ".need-error", error))) { if (done) banner(done); loadMyNeeds(); }
    return result;
  };
  const soon = new Date(node.expiresAt) - Date.now() < 2 * 86400e3;
  const editable = node.status !== "EXPIRED"; // an expired need is renewed, not edited
  const editor = !editable ? null : h("form", { class: "edit", hidden: true, "data-keep-open": "edit", onsubmit: async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.currentTarget));
    editor.hidden = true; // saved: the redraw that follows shows the need, not the form
    const result = await act(Q.updateNeed, { input: { needId: node.id, title: f.title, quantity: parseInt(f.quantity, 10) || 0,
      ...(f.householdSize ? { householdSize: parseInt(f.householdSize, 10) } : {}) } }, t("saved"));
    if (!payloadOk(result)) inItem(list, node.id, "form.edit", editor).hidden = false; // not saved: the form again
  } },
  h("label", {}, t("title"), h("input", { name: "title", value: node.title, maxlength: 120 })),
  h("div", { class: "row" },
    h("label", {}, t("quantity"), h("input", { name: "quantity", type: "number", min: 1, value: node.quantity })),
    h("label", {}, t("household"), h("input", { name: "householdSize", type: "number", min: 1, value: node.householdSize || "" }))),
  h("button", { type: "submit", class: "small primary" }, t("save")));
  // A slip of the finger must not cancel a need: the button asks once more, in the page.
  const sure = h("p", { class: "pledge-row sure", hidden: true, "data-keep-open": "sure" }, h("span", {}, t("cancelSure")),
    h("button", { type: "button", class: "small danger", onclick: () => { sure.hidden = true; act(Q.cancelNeed, { id: node.id }, t("needCancelled")); } }, t("cancelYes")),
    h("button", { type: "button", class: "small", onclick: () => { sure.hidden = true; } }, t("cancelNo")));
  const urgentKind = URGENT.includes(node.urgency) || node.category === "MEDICAL_CONSULTATION";
  const asking = node.helpRequest && node.helpRequest.status === "OPEN";
  return h("div", {},
    helpState(node.helpRequest),
    h("div", { class: "pledge-row actions" },
      urgentKind && !asking && ["OPEN", "PARTLY_PLEDGED"].includes(node.status) ? h("button", { type: "button", class: "small primary help-now",
        onclick: async () => {
          const r = await act(Q.helpNow, { id: node.id });
          if (r && r.requestHelpNow.helpRequest) banner(t(r.requestHelpNow.helpRequest.status === "EXHAUSTED" ? "helpExhausted" : "helpNowSent"));
        } }, t("helpNow")) : null,
      node.status === "EXPIRED" || soon ? h("button", { type: "button", class: "small", onclick: () => act(Q.renewNeed, { id: node.id }, t("renewed")) }, t("renew")) : null,
      // Closed without saving, the form forgets what was typed: reopened, it shows the need as it is.
      editable ? h("button", { type: "button", class: "small", onclick: () => { editor.hidden = !editor.hidden; if (editor.hidden) editor.reset(); } }, t("edit")) : null,
      node.status !== "EXPIRED" ? h("button", { type: "button", class: "small danger cancel-need", onclick: () => { sure.hidden = !sure.hidden; } }, t("cancelNeed")) : null),
    sure, editor, error);
}

/** Where "request help now" stands, read from the API (myNeeds), so it is still there after a reload. */
function helpState(request) {
  if (!request || request.status === "CANCELLED") return null;
  const text = request.status === "OPEN" ? t("helpAsking", { n: request.round })
    : request.status === "ACCEPTED" ? t("helpAccepted") : t("helpExhausted");
  return h("p", { class: `help-state ${request.status}`, "data-help": request.status }, `⚡ ${text}`);
}

function setNeedLocation(point) {
  state.needLocation = point;
  $("#need-lat").value = point.lat;
  $("#need-lon").value = point.lon;
  needMap.setMarks({ pin: point });
  // The location is filled: the "choose a location" message goes, a short confirmation replaces it.
  $("#need-location-error").textContent = "";
  $("#need-location-ok").hidden = false;
  $("#need-location-ok").textContent = `✓ ${t("placeChosen")} (${point.lat.toFixed(4)}, ${point.lon.toFixed(4)})`;
  place.set(point);
}

async function drawAreas(map, center, radius) {
  const data = await gql(Q.areas, { near: center, radius: Math.min(radius * 1.6, 50000) }).catch(() => null);
  if (data) map.setAreas(data.areas);
  if (config.tileUrl) map.setTiles(config.tileUrl);
}

async function postNeed(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const lat = parseFloat($("#need-lat").value), lon = parseFloat($("#need-lon").value);
  const fields = Object.fromEntries(new FormData(form));
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
    showErrors("need", [{ field: "location", message: t("locationMissing") }]);
    return;
  }
  const input = {
    category: fields.category, title: fields.title, quantity: parseInt(fields.quantity, 10) || 0, unit: fields.unit,
    urgency: fields.urgency, contactPhone: fields.contactPhone, location: { lat, lon },
    ...(fields.householdSize ? { householdSize: parseInt(fields.householdSize, 10) } : {}),
    ...(fields.details ? { details: fields.details } : {}),
    ...(fields.expiresAt ? { expiresAt: new Date(`${fields.expiresAt}T23:59:00`).toISOString() } : {}),
  };
  const data = await run("need", () => gql(Q.createNeed, { input }));
  if (!data) return;
  showErrors("need", data.createNeed.errors);
  if (data.createNeed.errors.length) return;
  form.reset();
  // What is about the person stays for their next need (phone, household size); what is about this
  // need goes. reset() put each select on its first option (LOW): the next need starts at NORMAL again.
  $("#need-phone").value = fields.contactPhone || "";
  $("#need-household").value = fields.householdSize || "";
  delete $("#need-urgency").dataset.touched;
  delete $("#need-unit").dataset.touched;
  fillSelects();
  $("#need-unit").value = i18n.unitFor($("#need-category").value);
  setNeedLocation({ lat, lon });
  banner(t("posted"));
  loadMyNeeds();
}

// ---------------------------------------------------------------- I want to help
let helpMap;

function helpQuery() {
  const category = $("#help-category").value;
  return { near: state.helpCenter, radius: parseFloat($("#help-radius").value), categories: category ? [category] : null };
}

const cellKey = (p) => `${p.lat.toFixed(5)},${p.lon.toFixed(5)}`;
const RANK = { CRITICAL: 0, HIGH: 1, NORMAL: 2, LOW: 3 };

function drawNearby() {
  const byUrgency = $("#help-order").value === "URGENCY";
  const all = [...state.nearby.values()].sort((a, b) => (byUrgency ? RANK[a.node.urgency] - RANK[b.node.urgency] : 0) ||
    a.distanceMeters - b.distanceMeters || (a.node.id < b.node.id ? -1 : 1));
  // A tapped cell lists only its own needs (the map still shows them all).
  const items = state.cell ? all.filter(({ node }) => cellKey(node.approximateLocation) === state.cell) : all;
  $("#cell-filter").hidden = !state.cell;
  const list = $("#nearby");
  redrawKeeping(list, items.map(({ node, distanceMeters, fresh }) => {
    const open = node.quantity - node.quantityPledged;
    const amount = h("input", { type: "number", min: 1, max: Math.max(open, 1), value: Math.max(Math.min(open, 1), 1), "aria-label": t("pledgeQuantity"), name: "quantity" });
    const error = h("p", { class: "field-error pledge-error", role: "alert" });
    return h("li", { class: `item${fresh ? " new" : ""}${URGENT.includes(node.urgency) ? " urgent" : ""}`, "data-need": node.id,
      "data-sig": JSON.stringify([i18n.lang(), node, distanceMeters, Boolean(fresh)]) },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      h("p", { class: "meta" }, h("strong", {}, i18n.lang() === "vi" ? `${t("away")} ${km(distanceMeters)}` : `${km(distanceMeters)} ${t("away")}`)), needMeta(node), verified(node),
      node.isMine || open <= 0 ? null : h("form", {
        class: "pledge-row",
        onsubmit: async (event) => {
          event.preventDefault();
          const data = await run("pledge", () => gql(Q.pledge, { input: { needId: node.id, quantity: parseInt(amount.value, 10) || 0 } }));
          if (!data) return;
          // This card may have been redrawn while the pledge was sent: speak to the one on screen now.
          if (data.pledge.errors.length) { inItem(list, node.id, ".pledge-error", error).textContent = data.pledge.errors.map((e) => e.message).join(" "); return; }
          banner(t("pledgedOk"));
          const now = inItem(list, node.id, "input[name=quantity]", amount);
          now.value = now.defaultValue; // pledged: this need's amount starts afresh
          searchNearby();
          loadMyPledges();
        },
      }, amount, h("span", {}, node.unit), h("button", { type: "submit", class: "small primary" }, t("pledge"))),
      node.isMine ? null : donor.reportButton(node.id),
      error);
  }));
  helpMap.setCells(all.map(({ node }) => ({ ...node.approximateLocation, label: node.title, mine: node.isMine, key: cellKey(node.approximateLocation) })));
}

async function searchNearby() {
  const query = helpQuery();
  helpMap.setView(query.near, query.radius);
  helpMap.setMarks({ me: query.near, radius: query.radius });
  drawAreas(helpMap, query.near, query.radius);
  place.set(query.near);
  const stale = startLoad("nearby");
  const urgentOnly = $("#help-urgent").checked;
  const data = await run("help", () => gql(Q.needs, { ...query, order: $("#help-order").value, urgencies: urgentOnly ? URGENT : null }));
  if (!data || stale()) return;
  state.nearby = new Map(data.needs.edges.map((e) => [e.node.id, { node: e.node, distanceMeters: e.distanceMeters }]));
  drawNearby();
  // Follow this area live: new needs appear, closed ones leave, without reloading.
  if (state.stopNearby) state.stopNearby();
  state.stopNearby = live.subscribe(Q.nearbyLive, query, (event) => {
    if (!event) return;
    const open = ["OPEN", "PARTLY_PLEDGED"].includes(event.need.status);
    const wanted = !$("#help-urgent").checked || URGENT.includes(event.need.urgency);
    if (event.kind === "CLOSED" || !open || !wanted) state.nearby.delete(event.need.id);
    else state.nearby.set(event.need.id, { node: event.need, distanceMeters: event.distanceMeters, fresh: event.kind === "CREATED" });
    if (event.kind === "CREATED") banner(t("newNeed"));
    drawNearby();
  });
}

/** The exact address as a link the phone's maps app opens (geo: URI), with a walking-time hint from here. */
// walk: the time on foot from where I look for needs (not for a courier setting out from a collection point).
function mapsLink(point, walk = true) {
  const from = state.helpCenter;
  const dLat = (point.lat - from.lat) * 111320, dLon = (point.lon - from.lon) * 111320 * Math.cos((point.lat * Math.PI) / 180);
  const minutes = Math.max(1, Math.round(Math.hypot(dLat, dLon) * 1.3 / 80)); // ~80 m a minute, streets ~1.3x the straight line
  const text = `${point.lat.toFixed(5)}, ${point.lon.toFixed(5)}`;
  return h("span", { class: "maps" },
    h("a", { class: "maps-link", href: `geo:${point.lat},${point.lon}?q=${point.lat},${point.lon}` }, `📍 ${t("openMaps")}`),
    " ", h("small", {}, text), ...(walk ? [" · ", h("span", { class: "walk" }, t("walk", { n: minutes }))] : []));
}

async function loadMyPledges() {
  const stale = startLoad("myPledges");
  const data = await run("help", () => gql(Q.myPledges));
  if (!data || stale()) return;
  const list = $("#my-pledges");
  const focused = focusedChat();
  list.replaceChildren(...data.myPledges.edges.map(({ node }) => {
    const need = node.need;
    const point = node.collectionPoint;
    const holder = h("li", { class: "item", "data-pledge-holder": node.id },
      h("header", {}, h("h3", {}, need.title),
        pledgeBadge(node.status)),
      h("p", { class: "meta" }, h("span", {}, `${node.quantity} ${need.unit}`), h("span", {}, i18n.status(need.status))),
      // Relayed: the donor's trip ends at the collection point, whose manager carries it on (and has the address).
      point ? h("p", { class: "meta drop-at" }, `${t("dropAt")}: ${point.name}, ${point.address}`) : null,
      need.exactLocation ? h("p", { class: "meta" },
        mapsLink(need.exactLocation),
        need.contactPhone ? h("span", {}, `${t("contact")}: `, h("a", { href: `tel:${need.contactPhone}` }, need.contactPhone)) : null) : null);
    const row = h("div", { class: "pledge-row" }, point ? null : chatToggle(node.id, holder),
      // "I delivered it": the requester is asked to confirm (the pledge stays pledged until they do).
      node.status === "PLEDGED" && !node.markedDeliveredAt && node.acceptedAt && !point ? h("button", {
        type: "button", class: "small primary mark-delivered",
        onclick: async () => { if (await run("help", () => gql(Q.markDelivered, { id: node.id }))) loadMyPledges(); },
      }, t("markDelivered")) : null,
      node.status === "PLEDGED" && node.markedDeliveredAt ? h("span", { class: "hint awaiting-confirmation" }, t("awaitingConfirmation")) : null,
      node.status === "PLEDGED" && !(point && node.markedDeliveredAt) ? h("button", {
        type: "button", class: "small danger",
        onclick: async () => { if (await run("help", () => gql(Q.cancelPledge, { id: node.id }))) { loadMyPledges(); searchNearby(); } },
      }, t("cancelPledge")) : null);
    holder.append(row);
    return holder;
  }));
  await reopenChats(list, focused);
  loadProposals();
  loadRelays();
}

/** Pledges a matching round proposes to me: accept (a real pledge, maybe through a collection point) or decline. */
async function loadProposals() {
  const stale = startLoad("proposals");
  const data = await run("help", () => gql(Q.myProposals));
  if (!data || stale()) return;
  $("#proposals-card").hidden = data.myProposals.length === 0;
  $("#my-proposals").replaceChildren(...data.myProposals.map((proposal) => {
    const error = h("p", { class: "field-error", role: "alert" });
    const point = proposal.collectionPoint;
    const answer = (query) => async () => {
      if (payloadOk(await run("help", () => gql(query, { id: proposal.id })), error)) loadMyPledges();
    };
    return h("li", { class: `item${URGENT.includes(proposal.need.urgency) ? " urgent" : ""}`, "data-proposal": proposal.id },
      h("header", {}, h("h3", {}, proposal.need.title)),
      h("p", { class: "meta" }, h("span", {}, `${proposal.quantity} ${proposal.need.unit}`),
        h("span", {}, `${t("fromOffer")}: ${proposal.offer.title}`)),
      point ? h("p", { class: "meta drop-at" }, `${t("dropAt")}: ${point.name}, ${point.address}`) : null,
      h("div", { class: "pledge-row" },
        h("button", { type: "button", class: "small primary", onclick: answer(Q.acceptProposal) }, t("acceptProposal")),
        h("button", { type: "button", class: "small", onclick: answer(Q.declineProposal) }, t("declineProposal"))),
      error);
  }));
}

/** What I carry as a collection point's manager: where each goes, the chat with the requester, "I delivered it". */
async function loadRelays() {
  const stale = startLoad("relays");
  const data = await run("help", () => gql(Q.myRelays));
  if (!data || stale()) return;
  $("#relays-card").hidden = data.myRelays.length === 0;
  const list = $("#my-relays");
  const focused = focusedChat();
  list.replaceChildren(...data.myRelays.map((node) => {
    const need = node.need;
    // data-pledge-holder: an open chat is drawn again after a redraw (reopenChats), as under My pledges.
    const holder = h("li", { class: "item", "data-relay": node.id, "data-pledge-holder": node.id },
      h("header", {}, h("h3", {}, need.title), h("span", { class: "badge" }, node.collectionPoint.name)),
      h("p", { class: "meta" }, h("span", {}, `${node.quantity} ${need.unit}`)),
      need.exactLocation ? h("p", { class: "meta" }, mapsLink(need.exactLocation, false),
        need.contactPhone ? h("span", {}, `${t("contact")}: `, h("a", { href: `tel:${need.contactPhone}` }, need.contactPhone)) : null) : null);
    holder.append(h("div", { class: "pledge-row" }, chatToggle(node.id, holder),
      !node.markedDeliveredAt && node.acceptedAt ? h("button", {
        type: "button", class: "small primary mark-delivered",
        onclick: async () => { if (await run("help", () => gql(Q.markDelivered, { id: node.id }))) loadRelays(); },
      }, t("markDelivered")) : null,
      node.markedDeliveredAt ? h("span", { class: "hint awaiting-confirmation" }, t("awaitingConfirmation")) : null));
    return holder;
  }));
  await reopenChats(list, focused);
}

// ---------------------------------------------------------------- verifier
async function loadQueue() {
  const stale = startLoad("queue");
  const data = await run("verify", () => gql(Q.queue));
  if (!data || stale()) return;
  $("#queue").replaceChildren(...data.verificationQueue.edges.map(({ node }) => {
    const reason = h("input", { "aria-label": t("reason"), placeholder: t("reason"), maxlength: 500 });
    const error = h("p", { class: "field-error", role: "alert" });
    const act = async (query, variables) => {
      const result = await run("verify", () => gql(query, variables));
      const errors = result ? Object.values(result)[0].errors : [];
      if (errors.length) error.textContent = errors.map((e) => e.message).join(" ");
      else loadQueue();
    };
    return h("li", { class: "item", "data-need": node.id },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      needMeta(node), node.details ? h("p", {}, node.details) : null,
      node.exactLocation ? h("p", { class: "meta" }, `${t("exact")}: ${node.exactLocation.lat.toFixed(5)}, ${node.exactLocation.lon.toFixed(5)} · ${node.contactPhone}`) : null,
      node.possibleDuplicateOf ? h("p", { class: "form-error" }, `≈ ${node.possibleDuplicateOf.title}`) : null,
      ...node.reports.map((r) => h("p", { class: "meta" }, `⚑ ${r.reason}`)),
      h("div", { class: "pledge-row" },
        h("button", { type: "button", class: "small primary", onclick: () => act(Q.verify, { id: node.id }) }, t("verify")),
        reason,
        h("button", { type: "button", class: "small danger", onclick: () => act(Q.reject, { id: node.id, reason: reason.value }) }, t("reject"))),
      error);
  }));
}

// ---------------------------------------------------------------- accounts
async function signedIn(token, { me = null } = {}) {
  session.token = token;
  live.stop();
  live.start();
  // On start `me` is already loaded. Loading it again showed the tabs, hid them, showed them and then
  // switched to "need": a tab tapped in between (a test, or a quick finger) was thrown back to "need".
  if (me) state.me = me;
  else await loadMe();
  if (!state.me) { live.stop(); return show("auth"); }
  live.subscribe(Q.activity, {}, (event) => {
    // A pledge, a delivery or a message that concerns me: refresh what is on screen.
    if (event) donor.onActivity(event);
    if (event && event.kind === "HELP_ACCEPTED") banner(t("helpAccepted"));
    if (event && event.kind === "HELP_EXHAUSTED") banner(t("helpExhausted"));
    // The requester, the donor and whoever filed the need for the person all hear of a delivery.
    if (event && event.kind === "PLEDGE_DELIVERED") banner(`✓ ${t("deliveryConfirmed")}`);
    // Only whoever confirms hears of it (the event's audience is the need's owner alone).
    if (event && event.kind === "PLEDGE_MARKED_DELIVERED") banner(t("donorSaysDelivered"));
    if (state.view === "need") loadMyNeeds();
    if (state.view === "help") loadMyPledges();
    if (state.view === "operator") operator.load();
  });
  show("need");
  donor.loadAsks(); // asks waiting for me (myHelpAsks): the tab is marked whatever view opens

}

async function loadMe() {
  state.me = null;
  if (session.token) {
    const data = await gql(Q.me).catch(() => null);
    state.me = data && data.me;
    if (!state.me) session.token = null;
  }
  renderAccount();
}

function bindAuth() {
  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = Object.fromEntries(new FormData(event.currentTarget));
    const data = await run("in", () => gql(Q.signIn, { input: { phone: f.phone, password: f.password } }));
    if (!data) return;
    showErrors("in", data.signIn.errors);
    if (data.signIn.token) signedIn(data.signIn.token);
  });
  $("#sign-up").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = Object.fromEntries(new FormData(event.currentTarget));
    const data = await run("up", () => gql(Q.signUp, { input: { displayName: f.displayName, phone: f.phone, password: f.password } }));
    if (!data) return;
    showErrors("up", data.signUp.errors);
    if (data.signUp.token) signedIn(data.signUp.token);
  });
  $("#sign-out").addEventListener("click", () => {
    session.token = null;
    state.me = null;
    live.stop();
    $("#help-asks").replaceChildren(); // the next person on this phone was not asked
    for (const id of ["#need-phone", "#need-household"]) $(id).value = ""; // nor do they share my phone
    state.prefilled = false;
    delete document.querySelector('.tab[data-view="help"]').dataset.alert;
    renderAccount();
    show("auth");
    banner(t("signedOut"));
  });
}

// ---------------------------------------------------------------- start

const live = new LiveSocket({ onState: (up) => {
  const badge = $("#live");
  badge.dataset.state = up ? "on" : "off";
  badge.textContent = t(up ? "live" : "liveOff");
} });
let config = {};

async function main() {
  config = await fetch("/config.json").then((r) => r.json()).catch(() => ({}));
  i18n.applyStatic();
  fillSelects();
  // On a phone "I need help" fits one screen: details, date and coordinates fold away; wider screens show them.
  if (matchMedia("(min-width: 561px)").matches) for (const more of document.querySelectorAll("details.more")) more.open = true;
  const start = place.get() || HANOI; // where the person was last, not always Hà Nội
  needMap = new SvgMap($("#need-map"), { onPick: setNeedLocation });
  needMap.setView(start, 2500);
  drawAreas(needMap, start, 2500);
  helpMap = new SvgMap($("#help-map"), { height: 450, onCell: (key) => { state.cell = state.cell === key ? null : key; drawNearby(); } });
  $("#cell-clear").addEventListener("click", () => { state.cell = null; drawNearby(); });
  $("#help-order").addEventListener("change", () => searchNearby());
  $("#help-urgent").addEventListener("change", () => searchNearby());
  // On a phone the map folds away until wanted (one-screen form): a ward found or "pick on the map" opens it.
  const openNeedMap = (open = true) => {
    $("#need-map").classList.toggle("open", open);
    $("#need-map-toggle").setAttribute("aria-expanded", String(open));
  };
  $("#need-map-toggle").addEventListener("click", () => openNeedMap(!$("#need-map").classList.contains("open")));
  placeFinder($("#need-place"), "need", ({ centre }) => {
    openNeedMap();
    needMap.setView(centre, 1500);
    drawAreas(needMap, centre, 1500);
    banner(t("pickOnMap"));
  });
  placeFinder($("#help-place"), "help", ({ centre }) => {
    state.helpCenter = centre;
    $("#help-lat").value = centre.lat;
    $("#help-lon").value = centre.lon;
    searchNearby();
  });
  $("#need-category").addEventListener("change", () => {
    if (!$("#need-unit").dataset.touched) $("#need-unit").value = i18n.unitFor($("#need-category").value);
  });
  $("#need-unit").addEventListener("input", (e) => (e.currentTarget.dataset.touched = "1"));
  donor.init({ live, state, searchNearby, loadMyPledges, drawAreas: (m, c, r) => drawAreas(m, c, r), fillSelects });
  operator.init({ drawAreas: (m, c, r) => drawAreas(m, c, r), start, loadMyNeeds });
  $("#help-lat").value = state.helpCenter.lat;
  $("#help-lon").value = state.helpCenter.lon;

  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  $("#lang").addEventListener("click", () => {
    i18n.setLang(i18n.lang() === "vi" ? "en" : "vi");
    fillSelects();
    renderAccount();
    drawNearby(); // from what is held, at once: the refetch below would leave the old language on screen meanwhile
    show(state.view);
  });
  $("#need-form").addEventListener("submit", postNeed);
  $("#need-urgency").addEventListener("change", (e) => (e.currentTarget.dataset.touched = "1"));
  for (const id of ["#need-lat", "#need-lon"]) {
    $(id).addEventListener("change", () => {
      const lat = parseFloat($("#need-lat").value), lon = parseFloat($("#need-lon").value);
      if (Number.isFinite(lat) && Number.isFinite(lon)) setNeedLocation({ lat, lon });
    });
  }
  $("#need-geolocate").addEventListener("click", () => geolocate((p) => {
    needMap.setView(p, 2500);
    drawAreas(needMap, p, 2500);
    setNeedLocation(p);
  }));
  $("#help-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const lat = parseFloat($("#help-lat").value), lon = parseFloat($("#help-lon").value);
    if (Number.isFinite(lat) && Number.isFinite(lon)) state.helpCenter = { lat, lon };
    searchNearby();
  });
  $("#help-geolocate").addEventListener("click", () => geolocate((p) => {
    state.helpCenter = p;
    $("#help-lat").value = p.lat;
    $("#help-lon").value = p.lon;
    searchNearby();
  }));
  bindAuth();
  $("#need-unit").value = i18n.unitFor($("#need-category").value);
  await loadMe();
  if (state.me) await signedIn(session.token, { me: state.me });
  else show("auth");
}

main();
