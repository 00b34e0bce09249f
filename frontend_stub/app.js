// aidmap's reference page. Plain ES modules, no build step: everything is served by aidmap itself.
import { ApiError, LiveSocket, gql, session } from "./api.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { SvgMap } from "./map.js";

const $ = (selector) => document.querySelector(selector);
const HANOI = { lat: 21.0285, lon: 105.8542 };

/** Build DOM from data (text is always set as text: user content can never become markup). */
function h(tag, attrs = {}, ...children) {
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

const NEED_FIELDS = `id title details category status quantity quantityPledged quantityDelivered unit urgency
  isMine approximateLocation { lat lon } verification { area { name } }`;
const Q = {
  me: "{ me { id displayName roles } }",
  signIn: "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { field message code } } }",
  signUp: "mutation ($input: SignUpInput!) { signUp(input: $input) { token errors { field message code } } }",
  myNeeds: `{ myNeeds(first: 50) { edges { node { ${NEED_FIELDS} rejectedReason expiresAt
    pledges { id quantity status acceptedAt donor { displayName } } } } } }`,
  createNeed: `mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } errors { field message code } } }`,
  needs: `query ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!]) {
    needs(near: $near, radiusMeters: $radius, categories: $categories, first: 50) {
      edges { distanceMeters node { ${NEED_FIELDS} } } } }`,
  areas: `query ($near: GeoPointInput!, $radius: Float!) { areas(near: $near, radiusMeters: $radius) {
    area { code name fullName } geojson } }`,
  pledge: `mutation ($input: PledgeInput!) { pledge(input: $input) { pledge { id } errors { field message code } } }`,
  myPledges: `{ myPledges(first: 50) { edges { node { id quantity status
    need { id title unit status exactLocation { lat lon } contactPhone } } } } }`,
  messages: "query ($id: ID!) { messages(pledgeId: $id) { id body isMine sender { displayName } } }",
  send: `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { errors { field message code } } }`,
  confirm: `mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { field message code } } }`,
  acceptPledge: `mutation ($id: ID!) { acceptPledge(input: {pledgeId: $id}) { errors { field message code } } }`,
  cancelPledge: `mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { errors { field message code } } }`,
  queue: `{ verificationQueue(first: 50) { edges { node { ${NEED_FIELDS} exactLocation { lat lon } contactPhone
    details reports { reason } possibleDuplicateOf { id title } } } } }`,
  verify: `mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { field message code } } }`,
  reject: `mutation ($id: ID!, $reason: String!) { rejectNeed(input: {needId: $id, reason: $reason}) { errors { field message code } } }`,
  nearbyLive: `subscription ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!], $after: String) {
    needsNearby(near: $near, radiusMeters: $radius, categories: $categories, after: $after) {
      cursor kind distanceMeters need { ${NEED_FIELDS} } } }`,
  activity: `subscription ($after: String) { myActivity(after: $after) { cursor kind } }`,
};

const state = {
  me: null,
  view: "need",
  needLocation: null,
  helpCenter: { ...HANOI },
  nearby: new Map(), // need id -> { node, distanceMeters }
  openChats: new Set(),
  drafts: new Map(), // pledge id -> unsent chat text: live updates redraw lists while people type
  stopNearby: null,
};

// Live events can start several reloads of one list at once; only the newest may draw,
// or an older answer (fetched before the latest message) would overwrite a newer one.
const generations = {};
function startLoad(key) {
  const mine = (generations[key] = (generations[key] || 0) + 1);
  return () => generations[key] !== mine;
}

// ---------------------------------------------------------------- feedback
function banner(text) {
  const node = $("#banner");
  node.textContent = text;
  node.hidden = !text;
  clearTimeout(banner.timer);
  if (text) banner.timer = setTimeout(() => (node.hidden = true), 5000);
}

/** Show payload errors next to their fields (prefix-field-error), the rest in the form's error line. */
function showErrors(prefix, errors) {
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

async function run(prefix, action) {
  try {
    return await action();
  } catch (error) {
    showErrors(prefix, error instanceof ApiError ? error.errors : [{ message: String(error.message || error) }]);
    return null;
  }
}

// ---------------------------------------------------------------- views
function show(view) {
  if (!state.me && view !== "auth") view = "auth";
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (view === "need") loadMyNeeds();
  if (view === "help") { searchNearby(); loadMyPledges(); }
  if (view === "verify") loadQueue();
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
  if (!$("#need-urgency").dataset.touched) $("#need-urgency").value = "NORMAL";
  for (const [id, key] of [["#my-needs", "noNeeds"], ["#nearby", "noNearby"], ["#my-pledges", "noPledges"], ["#queue", "noQueue"]]) {
    $(id).dataset.empty = t(key);
  }
}

const km = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

function needMeta(node) {
  return h("p", { class: "meta" },
    h("span", {}, i18n.category(node.category)),
    h("span", {}, `${t("needed")}: ${node.quantity} ${node.unit}`),
    node.quantityPledged ? h("span", {}, `${t("pledged")}: ${node.quantityPledged}`) : null,
    node.quantityDelivered ? h("span", {}, `${t("delivered")}: ${node.quantityDelivered}`) : null,
  );
}

function badges(node) {
  return h("span", {},
    node.urgency === "HIGH" || node.urgency === "CRITICAL" ? h("span", { class: `badge urgency-${node.urgency}` }, i18n.urgency(node.urgency)) : null, " ",
    h("span", { class: `badge ${node.status}`, "data-status": node.status }, i18n.status(node.status)));
}

function verified(node) {
  return node.verification ? h("p", { class: "verified" }, `✓ ${t("verifiedBy")} ${node.verification.area ? node.verification.area.name : ""}`) : null;
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
    if (holder) {
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
  list.replaceChildren(...data.myNeeds.edges.map(({ node }) => {
    const pledges = node.pledges.map((p) => {
      const holder = h("li", { class: "sub", "data-pledge-holder": p.id },
        h("div", { class: "pledge-row" },
          h("span", {}, `${p.donor.displayName}: ${p.quantity} ${node.unit}`),
          h("span", { class: `badge ${p.status === "PLEDGED" ? "PLEDGED_OK" : p.status}` }, i18n.status(p.status === "PLEDGED" ? "PLEDGED" : p.status)),
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
    return h("li", { class: "item", "data-need": node.id },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      needMeta(node), verified(node),
      node.rejectedReason ? h("p", { class: "form-error" }, node.rejectedReason) : null,
      h("p", { class: "meta" }, t("pledgesOnNeed")),
      pledges.length ? h("ul", { class: "list" }, pledges) : h("p", { class: "hint" }, t("noPledgesYet")));
  }));
  await reopenChats(list, focused);
}

function setNeedLocation(point) {
  state.needLocation = point;
  $("#need-lat").value = point.lat;
  $("#need-lon").value = point.lon;
  needMap.setMarks({ pin: point });
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
    ...(fields.details ? { details: fields.details } : {}),
    ...(fields.expiresAt ? { expiresAt: new Date(`${fields.expiresAt}T23:59:00`).toISOString() } : {}),
  };
  const data = await run("need", () => gql(Q.createNeed, { input }));
  if (!data) return;
  showErrors("need", data.createNeed.errors);
  if (data.createNeed.errors.length) return;
  form.reset();
  fillSelects();
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

function drawNearby() {
  const items = [...state.nearby.values()].sort((a, b) => a.distanceMeters - b.distanceMeters || (a.node.id < b.node.id ? -1 : 1));
  const list = $("#nearby");
  list.replaceChildren(...items.map(({ node, distanceMeters, fresh }) => {
    const open = node.quantity - node.quantityPledged;
    const amount = h("input", { type: "number", min: 1, max: Math.max(open, 1), value: Math.max(Math.min(open, 1), 1), "aria-label": t("pledgeQuantity"), name: "quantity" });
    const error = h("p", { class: "field-error", role: "alert" });
    return h("li", { class: `item${fresh ? " new" : ""}`, "data-need": node.id },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      h("p", { class: "meta" }, h("strong", {}, i18n.lang() === "vi" ? `${t("away")} ${km(distanceMeters)}` : `${km(distanceMeters)} ${t("away")}`)), needMeta(node), verified(node),
      node.isMine || open <= 0 ? null : h("form", {
        class: "pledge-row",
        onsubmit: async (event) => {
          event.preventDefault();
          const data = await run("pledge", () => gql(Q.pledge, { input: { needId: node.id, quantity: parseInt(amount.value, 10) || 0 } }));
          if (!data) return;
          if (data.pledge.errors.length) { error.textContent = data.pledge.errors.map((e) => e.message).join(" "); return; }
          banner(t("pledgedOk"));
          searchNearby();
          loadMyPledges();
        },
      }, amount, h("span", {}, node.unit), h("button", { type: "submit", class: "small primary" }, t("pledge"))),
      error);
  }));
  helpMap.setCells(items.map(({ node }) => ({ ...node.approximateLocation, label: node.title, mine: node.isMine })));
}

async function searchNearby() {
  const query = helpQuery();
  helpMap.setView(query.near, query.radius);
  helpMap.setMarks({ me: query.near, radius: query.radius });
  drawAreas(helpMap, query.near, query.radius);
  const stale = startLoad("nearby");
  const data = await run("help", () => gql(Q.needs, query));
  if (!data || stale()) return;
  state.nearby = new Map(data.needs.edges.map((e) => [e.node.id, { node: e.node, distanceMeters: e.distanceMeters }]));
  drawNearby();
  // Follow this area live: new needs appear, closed ones leave, without reloading.
  if (state.stopNearby) state.stopNearby();
  state.stopNearby = live.subscribe(Q.nearbyLive, query, (event) => {
    if (!event) return;
    const open = ["OPEN", "PARTLY_PLEDGED"].includes(event.need.status);
    if (event.kind === "CLOSED" || !open) state.nearby.delete(event.need.id);
    else state.nearby.set(event.need.id, { node: event.need, distanceMeters: event.distanceMeters, fresh: event.kind === "CREATED" });
    if (event.kind === "CREATED") banner(t("newNeed"));
    drawNearby();
  });
}

async function loadMyPledges() {
  const stale = startLoad("myPledges");
  const data = await run("help", () => gql(Q.myPledges));
  if (!data || stale()) return;
  const list = $("#my-pledges");
  const focused = focusedChat();
  list.replaceChildren(...data.myPledges.edges.map(({ node }) => {
    const need = node.need;
    const holder = h("li", { class: "item", "data-pledge-holder": node.id },
      h("header", {}, h("h3", {}, need.title),
        h("span", { class: `badge ${node.status === "PLEDGED" ? "PLEDGED_OK" : node.status}`, "data-status": node.status }, i18n.status(node.status === "PLEDGED" ? "PLEDGED" : node.status))),
      h("p", { class: "meta" }, h("span", {}, `${node.quantity} ${need.unit}`), h("span", {}, i18n.status(need.status))),
      need.exactLocation ? h("p", { class: "meta" },
        h("span", {}, `${t("exact")}: ${need.exactLocation.lat.toFixed(5)}, ${need.exactLocation.lon.toFixed(5)}`),
        need.contactPhone ? h("span", {}, `${t("contact")}: `, h("a", { href: `tel:${need.contactPhone}` }, need.contactPhone)) : null) : null);
    const row = h("div", { class: "pledge-row" }, chatToggle(node.id, holder),
      node.status === "PLEDGED" ? h("button", {
        type: "button", class: "small danger",
        onclick: async () => { if (await run("help", () => gql(Q.cancelPledge, { id: node.id }))) { loadMyPledges(); searchNearby(); } },
      }, t("cancelPledge")) : null);
    holder.append(row);
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
async function signedIn(token) {
  session.token = token;
  live.stop();
  live.start();
  await loadMe();
  live.subscribe(Q.activity, {}, () => {
    // A pledge, a delivery or a message that concerns me: refresh what is on screen.
    if (state.view === "need") loadMyNeeds();
    if (state.view === "help") loadMyPledges();
  });
  show("need");
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

function geolocate(onPoint) {
  if (!navigator.geolocation) return banner(t("geoUnavailable"));
  navigator.geolocation.getCurrentPosition(
    (p) => onPoint({ lat: +p.coords.latitude.toFixed(6), lon: +p.coords.longitude.toFixed(6) }),
    () => banner(t("geoUnavailable")), { timeout: 8000 });
}

async function main() {
  config = await fetch("/config.json").then((r) => r.json()).catch(() => ({}));
  i18n.applyStatic();
  fillSelects();
  needMap = new SvgMap($("#need-map"), { onPick: setNeedLocation });
  needMap.setView(HANOI, 2500);
  drawAreas(needMap, HANOI, 2500);
  helpMap = new SvgMap($("#help-map"), { height: 450 });
  $("#help-lat").value = state.helpCenter.lat;
  $("#help-lon").value = state.helpCenter.lon;

  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  $("#lang").addEventListener("click", () => {
    i18n.setLang(i18n.lang() === "vi" ? "en" : "vi");
    fillSelects();
    renderAccount();
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
  await loadMe();
  if (state.me) await signedIn(session.token);
  else show("auth");
}

main();
