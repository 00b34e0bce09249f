// A small SVG map: ward outlines from the API as the base layer (no tile server needed),
// approximate locations as ~500 m cells, never as pins. A tile layer can be configured.
const SVG = "http://www.w3.org/2000/svg";
const W = 600, H = 400;
const M_PER_DEG = 111320;

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export class SvgMap {
  constructor(container, { onPick, onCell, height = H } = {}) {
    this.height = height;
    this.onCell = onCell;
    this.svg = el("svg", { viewBox: `0 0 ${W} ${height}`, preserveAspectRatio: "xMidYMid slice" });
    this.layers = {};
    for (const name of ["tiles", "areas", "labels", "overlay", "cells", "marks"]) {
      this.layers[name] = el("g");
      this.svg.append(this.layers[name]);
    }
    container.append(this.svg);
    this.center = { lat: 21.0285, lon: 105.8542 };
    this.radius = 3000;
    if (onPick) {
      this.svg.addEventListener("click", (event) => {
        const box = this.svg.getBoundingClientRect();
        // Undo preserveAspectRatio="slice": scale by the larger ratio, centred.
        const scale = Math.max(box.width / W, box.height / this.height);
        const x = (event.clientX - box.left - (box.width - W * scale) / 2) / scale;
        const y = (event.clientY - box.top - (box.height - this.height * scale) / 2) / scale;
        onPick(this.unproject(x, y));
      });
    }
  }

  setView(center, radiusM) {
    this.center = center;
    this.radius = radiusM;
    // Fit the circle's diameter (plus a margin) into the map's height.
    this.pxPerM = this.height / (radiusM * 2.3);
  }

  project({ lat, lon }) {
    const cos = Math.cos((this.center.lat * Math.PI) / 180);
    return {
      x: W / 2 + (lon - this.center.lon) * M_PER_DEG * cos * this.pxPerM,
      y: this.height / 2 - (lat - this.center.lat) * M_PER_DEG * this.pxPerM,
    };
  }

  unproject(x, y) {
    const cos = Math.cos((this.center.lat * Math.PI) / 180);
    return {
      lat: +(this.center.lat + (this.height / 2 - y) / this.pxPerM / M_PER_DEG).toFixed(6),
      lon: +(this.center.lon + (x - W / 2) / this.pxPerM / M_PER_DEG / cos).toFixed(6),
    };
  }

  setAreas(outlines) {
    const { areas, labels } = this.layers;
    areas.replaceChildren();
    labels.replaceChildren();
    for (const { area, geojson } of outlines) {
      const geometry = JSON.parse(geojson);
      const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
      let d = "";
      for (const rings of polygons) {
        for (const ring of rings) {
          d += ring.map(([lon, lat], i) => {
            const p = this.project({ lat, lon });
            return `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
          }).join("") + "Z";
        }
      }
      const path = el("path", { d, class: "area" });
      const title = el("title");
      title.textContent = area.fullName || area.name;
      path.append(title);
      areas.append(path);
      // Label at the outer ring's mean point, when it is on the map.
      const ring = polygons[0][0];
      const mean = ring.reduce((acc, [lon, lat]) => ({ lat: acc.lat + lat / ring.length, lon: acc.lon + lon / ring.length }), { lat: 0, lon: 0 });
      const p = this.project(mean);
      if (p.x > 20 && p.x < W - 20 && p.y > 12 && p.y < this.height - 8) {
        const text = el("text", { x: p.x.toFixed(1), y: p.y.toFixed(1), class: "area-label", "text-anchor": "middle" });
        text.textContent = area.name;
        labels.append(text);
      }
    }
  }

  setTiles(urlTemplate) {
    // Optional raster tiles (AIDMAP_TILE_URL), e.g. https://tile.example.org/{z}/{x}/{y}.png
    const layer = this.layers.tiles;
    layer.replaceChildren();
    if (!urlTemplate) return;
    const metresAcross = W / this.pxPerM;
    const z = Math.max(3, Math.min(18, Math.round(Math.log2((40075016 * Math.cos((this.center.lat * Math.PI) / 180)) / metresAcross * (W / 256)))));
    const n = 2 ** z;
    const tileX = (lon) => ((lon + 180) / 360) * n;
    const tileY = (lat) => ((1 - Math.log(Math.tan((lat * Math.PI) / 180) + 1 / Math.cos((lat * Math.PI) / 180)) / Math.PI) / 2) * n;
    const topLeft = this.unproject(0, 0), bottomRight = this.unproject(W, this.height);
    for (let x = Math.floor(tileX(topLeft.lon)); x <= Math.floor(tileX(bottomRight.lon)); x++) {
      for (let y = Math.floor(tileY(topLeft.lat)); y <= Math.floor(tileY(bottomRight.lat)); y++) {
        const lon0 = (x / n) * 360 - 180, lon1 = ((x + 1) / n) * 360 - 180;
        const lat0 = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
        const lat1 = (Math.atan(Math.sinh(Math.PI * (1 - (2 * (y + 1)) / n))) * 180) / Math.PI;
        const a = this.project({ lat: lat0, lon: lon0 }), b = this.project({ lat: lat1, lon: lon1 });
        layer.append(el("image", { href: urlTemplate.replace("{z}", z).replace("{x}", x).replace("{y}", y),
          x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y, preserveAspectRatio: "none" }));
      }
    }
  }

  setCells(cells) {
    // Each approximate location is drawn as its ~500 m square, centred on the cell centre the API returns.
    const layer = this.layers.cells;
    layer.replaceChildren();
    const side = 500 * this.pxPerM;
    for (const cell of cells) {
      const p = this.project(cell);
      const rect = el("rect", { x: p.x - side / 2, y: p.y - side / 2, width: side, height: side, class: `cell${cell.mine ? " mine" : ""}` });
      if (this.onCell) {
        // Tapping a cell lists its needs; a keyboard reaches it too.
        rect.setAttribute("tabindex", "0");
        rect.setAttribute("role", "button");
        rect.dataset.cell = cell.key;
        rect.addEventListener("click", (e) => { e.stopPropagation(); this.onCell(cell.key); });
        rect.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.onCell(cell.key); } });
      }
      const title = el("title");
      title.textContent = cell.label;
      rect.append(title);
      layer.append(rect);
    }
  }

  setMarks({ me, pin, radius } = {}) {
    const layer = this.layers.marks;
    layer.replaceChildren();
    if (me && radius) {
      const c = this.project(me);
      layer.append(el("circle", { cx: c.x, cy: c.y, r: radius * this.pxPerM, class: "radius" }));
    }
    if (me) {
      const c = this.project(me);
      layer.append(el("circle", { cx: c.x, cy: c.y, r: 6, class: "me" }));
    }
    if (pin) {
      const c = this.project(pin);
      layer.append(el("path", { d: `M${c.x},${c.y} l-7,-16 a8,8 0 1,1 14,0 z`, class: "pin" }));
    }
  }
}
