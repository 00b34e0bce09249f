// Find a place without coordinates or geolocation: a city, then a ward by name from the outlines the API
// returns (`areas`); choosing one centres the map on it, and a tap on the map picks the spot.
import { gql } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

export const CITIES = [
  { key: "hn", name: "Hà Nội", lat: 21.0285, lon: 105.8542 },
  { key: "hue", name: "Huế", lat: 16.4637, lon: 107.5909 },
  { key: "hcm", name: "TP. Hồ Chí Minh", lat: 10.7769, lon: 106.7009 },
  { key: "tn", name: "Tây Ninh", lat: 11.3101, lon: 106.0983 },
  { key: "vt", name: "Vũng Tàu", lat: 10.346, lon: 107.0843 },
];
const AREAS = `query ($near: GeoPointInput!, $radius: Float!) { areas(near: $near, radiusMeters: $radius) {
  area { code name fullName } geojson } }`;
const cache = new Map();

// Vietnamese without accents, lower case: "phuc xa" finds "Phúc Xá".
const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();

/** The mean of a polygon's outer ring: a point inside most wards, good enough to centre the map. */
function centreOf(geojson) {
  const g = JSON.parse(geojson);
  const ring = (g.type === "Polygon" ? g.coordinates : g.coordinates[0])[0];
  const sum = ring.reduce((a, [lon, lat]) => ({ lat: a.lat + lat, lon: a.lon + lon }), { lat: 0, lon: 0 });
  return { lat: +(sum.lat / ring.length).toFixed(6), lon: +(sum.lon / ring.length).toFixed(6) };
}

async function wardsOf(city) {
  if (!cache.has(city.key)) {
    cache.set(city.key, gql(AREAS, { near: { lat: city.lat, lon: city.lon }, radius: 25000 })
      .then((d) => d.areas).catch(() => { cache.delete(city.key); return []; }));
  }
  return cache.get(city.key);
}

/** Mount the finder in `container`; `onPick({ area, centre, outlines })` when a ward is chosen. */
export function placeFinder(container, prefix, onPick) {
  // data-i18n-*: a language switch relabels the finder (it is built once, not redrawn).
  const city = h("select", { id: `${prefix}-city`, "aria-label": t("city"), "data-i18n-aria": "city" },
    CITIES.map((c) => h("option", { value: c.key }, c.name)));
  const query = h("input", { id: `${prefix}-ward`, type: "search", placeholder: t("findPlace"), "aria-label": t("findPlace"),
    "data-i18n-aria": "findPlace", "data-i18n-placeholder": "findPlace", autocomplete: "off" });
  const results = h("ul", { class: "results", id: `${prefix}-results` });
  const search = async () => {
    const chosen = CITIES.find((c) => c.key === city.value);
    const wanted = fold(query.value.trim());
    const outlines = await wardsOf(chosen);
    const found = outlines.filter((o) => !wanted || fold(o.area.name).includes(wanted) || fold(o.area.fullName || "").includes(wanted)).slice(0, 8);
    results.replaceChildren(...found.map((o) => h("li", {}, h("button", {
      type: "button", class: "result",
      onclick: () => { results.replaceChildren(); query.value = o.area.name; onPick({ area: o.area, centre: centreOf(o.geojson), outlines }); },
    }, o.area.fullName || o.area.name))));
  };
  let timer;
  query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 200); });
  query.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); search(); } });
  city.addEventListener("change", () => { query.value = ""; results.replaceChildren(); });
  container.replaceChildren(h("div", { class: "finder" }, city, query,
    h("button", { type: "button", class: "secondary", onclick: search, "data-i18n": "search2" }, t("search2"))), results);
}
