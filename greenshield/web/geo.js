/* The region's prefecture cities as SVG paths, from the vendored ECharts 4.9.0 province files (vendor/geo/).
   Those files are GeoJSON with ECharts' compact coordinates ("UTF8Encoding"): decoded here as ECharts' own
   parseGeoJson does, then drawn with an equirectangular projection (longitude scaled by cos of the mean latitude). */
"use strict";

const Geo = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // file -> the GB/T 2260 city code of a feature: Shanghai's file has districts (one city, 310100)
  const PROVINCES = { shanghai: () => "310100", jiangsu: (f) => f.id, zhejiang: (f) => f.id, anhui: (f) => f.id };

  function decodeRing(text, offsets, scale) {
    const out = [];
    let x = offsets[0], y = offsets[1];
    for (let i = 0; i < text.length; i += 2) {
      let dx = text.charCodeAt(i) - 64, dy = text.charCodeAt(i + 1) - 64;
      dx = (dx >> 1) ^ (-(dx & 1)); // zigzag
      dy = (dy >> 1) ^ (-(dy & 1));
      x += dx; y += dy;
      out.push([x / scale, y / scale]);
    }
    return out;
  }

  // every polygon of a feature as a list of rings of [lon, lat]
  function polygons(json, feature) {
    const g = feature.geometry;
    const scale = json.UTF8Scale || 1024;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    const offsets = g.type === "Polygon" ? [g.encodeOffsets] : g.encodeOffsets;
    if (!json.UTF8Encoding) return polys;
    return polys.map((rings, p) => rings.map((ring, r) => decodeRing(ring, offsets[p][r], scale)));
  }

  async function load(fetchJson) {
    const names = Object.keys(PROVINCES);
    const files = await Promise.all(names.map((n) => fetchJson(`/static/vendor/geo/${n}.json`)));
    const cities = [];
    files.forEach((json, i) => {
      for (const f of json.features) {
        const code = PROVINCES[names[i]](f);
        if (typeof code === "string" && /^[0-9]{6}$/.test(code)) {
          cities.push({ code, name: String(f.properties.name || code), cp: f.properties.cp, polygons: polygons(json, f) });
        }
      }
    });
    return cities;
  }

  function projection(cities, width, height, margin) {
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (const c of cities) for (const poly of c.polygons) for (const ring of poly) for (const [lon, lat] of ring) {
      minX = Math.min(minX, lon); maxX = Math.max(maxX, lon); minY = Math.min(minY, lat); maxY = Math.max(maxY, lat);
    }
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const s = Math.min((width - 2 * margin) / ((maxX - minX) * k), (height - 2 * margin) / (maxY - minY));
    return ([lon, lat]) => [margin + (lon - minX) * k * s, margin + (maxY - lat) * s];
  }

  function pathData(polys, project) {
    const parts = [];
    for (const poly of polys) for (const ring of poly) {
      parts.push("M" + ring.map((pt) => project(pt).map((v) => v.toFixed(1)).join(",")).join("L") + "Z");
    }
    return parts.join("");
  }

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c));
    return node;
  }

  return { load, projection, pathData, svg };
})();
