// Hotline operators and relatives: file a need for someone by phone and name, follow what they filed,
// confirm delivery for the person, give the claim code; and the person's "claim my need" screen.
import { gql } from "./api.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { SvgMap } from "./map.js";
import { placeFinder } from "./place.js";
import { $, badges, banner, h, needMeta, payloadOk, pledgeBadge, run, showErrors, startLoad } from "./ui.js";

const Q = {
  file: `mutation ($input: CreateNeedInput!) { createNeed(input: $input) { claimCode need { id } errors { field message code } } }`,
  filed: `{ myNeeds(first: 50, filedForOthers: true) { edges { node { id title category status quantity quantityPledged
    quantityDelivered unit urgency householdSize isMine onBehalfOf { displayName phone }
    pledges { id quantity status markedDeliveredAt donor { displayName } } } } } }`,
  code: `mutation ($id: ID!) { issueClaimCode(input: {needId: $id}) { claimCode errors { field message code } } }`,
  confirm: `mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { field message code } } }`,
  claim: `mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { need { id title } errors { field message code } } }`,
};
let ctx, map, point = null;

export function init(context) {
  ctx = context;
  map = new SvgMap($("#op-map"), { onPick: pick });
  map.setView(context.start, 2500);
  context.drawAreas(map, context.start, 2500);
  placeFinder($("#op-place"), "op", ({ centre }) => { map.setView(centre, 1500); ctx.drawAreas(map, centre, 1500); pick(centre); });
  $("#op-form").addEventListener("submit", file);
  $("#op-category").addEventListener("change", () => ($("#op-unit").value = i18n.unitFor($("#op-category").value)));
  $("#op-urgency").addEventListener("change", (e) => (e.currentTarget.dataset.touched = "1"));
  $("#claim-form").addEventListener("submit", claim);
}

function pick(p) {
  point = p;
  map.setMarks({ pin: p });
  $("#op-location-error").textContent = "";
  $("#op-location-ok").hidden = false;
  $("#op-location-ok").textContent = `✓ ${t("placeChosen")} (${p.lat.toFixed(4)}, ${p.lon.toFixed(4)})`;
}

// The need's number (its global id is base64 of "Need:<number>"): what the operator reads out and
// the SMS gives, and what the claim screen takes, as digits rather than case-sensitive base64.
function needNumber(id) {
  try {
    const [type, number] = atob(id).split(":");
    return type === "Need" && /^\d+$/.test(number) ? number : id;
  } catch { return id; }
}

function showCode(code, need) {
  const box = $("#op-code");
  box.hidden = false;
  box.replaceChildren(h("p", {}, t("claimCodeHint")), h("p", { class: "big-code" }, code),
    need ? h("p", { class: "meta" }, `${t("needId")}: `, h("code", { class: "need-number" }, needNumber(need))) : null);
}

async function file(event) {
  event.preventDefault();
  const form = event.currentTarget; // gone from the event once an await has passed
  const f = Object.fromEntries(new FormData(form));
  if (!point) { showErrors("op", [{ field: "location", message: t("locationMissing") }]); return; }
  const input = { category: f.category, title: f.title, quantity: parseInt(f.quantity, 10) || 0, unit: f.unit,
    urgency: f.urgency, location: point, contactPhone: f.phone, onBehalfOf: { displayName: f.displayName, phone: f.phone },
    ...(f.householdSize ? { householdSize: parseInt(f.householdSize, 10) } : {}) };
  const data = await run("op", () => gql(Q.file, { input }));
  if (!data) return;
  // onBehalfOf's own problems name their field: put them next to the name and phone.
  showErrors("op", data.createNeed.errors.map((e) => ({ ...e, field: (e.field || "").replace(/^onBehalfOf\./, "") })));
  if (data.createNeed.errors.length) return;
  form.reset();
  delete $("#op-urgency").dataset.touched;
  $("#op-urgency").value = "NORMAL";
  showCode(data.createNeed.claimCode, data.createNeed.need.id);
  load();
}

export async function load() {
  const stale = startLoad("filed");
  const data = await run("op", () => gql(Q.filed));
  if (!data || stale()) return;
  $("#filed-needs").replaceChildren(...data.myNeeds.edges.map(({ node }) => {
    const error = h("p", { class: "field-error", role: "alert" });
    const person = node.onBehalfOf;
    return h("li", { class: "item", "data-filed": node.id },
      h("header", {}, h("h3", {}, node.title), badges(node)),
      h("p", { class: "meta" }, h("strong", {}, `${t("forPerson")} ${person ? person.displayName : ""}`),
        person && person.phone ? h("a", { href: `tel:${person.phone}` }, person.phone) : null,
        h("span", { class: "claimed" }, node.isMine ? t("notClaimed") : `✓ ${t("claimedBy")}`)),
      needMeta(node),
      h("ul", { class: "list" }, node.pledges.map((p) => h("li", { class: "sub pledge-row" },
        h("span", {}, `${p.donor ? p.donor.displayName : "?"}: ${p.quantity} ${node.unit}`), pledgeBadge(p.status),
        p.status === "PLEDGED" && p.markedDeliveredAt && node.isMine ? h("span", { class: "hint donor-says-delivered" }, t("donorSaysDelivered")) : null,
        p.status === "PLEDGED" && node.isMine ? h("button", { type: "button", class: "small primary", onclick: async () => {
          if (payloadOk(await run("op", () => gql(Q.confirm, { id: p.id })), error)) load();
        } }, t("confirmDelivery")) : null,
        // Once the person has claimed the need it is theirs: they confirm delivery (the API refuses the filer).
        p.status === "PLEDGED" && !node.isMine ? h("span", { class: "hint claimant-confirms" }, t("claimantConfirms")) : null))),
      node.isMine ? h("div", { class: "pledge-row" }, h("button", { type: "button", class: "small", onclick: async () => {
        const result = await run("op", () => gql(Q.code, { id: node.id }));
        if (payloadOk(result, error)) showCode(result.issueClaimCode.claimCode, node.id);
      } }, t("newCode"))) : null, error);
  }));
}

async function claim(event) {
  event.preventDefault();
  const form = event.currentTarget; // gone from the event once an await has passed
  const f = Object.fromEntries(new FormData(form));
  const data = await run("claim", () => gql(Q.claim, { input: { needId: f.needId.trim(), code: f.code.trim() } }));
  if (!data) return;
  showErrors("claim", data.claimNeed.errors);
  if (data.claimNeed.errors.length) return;
  form.reset();
  banner(t("claimed"));
  ctx.loadMyNeeds();
  document.querySelector('.tab[data-view="need"]').click();
}
