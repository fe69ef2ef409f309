/* Shared by the dashboard, risk and auditor pages: calls to /v1 with the sign-in cookie, formatting.
   Times are shown in Beijing time (UTC+8), the zone named; the API answers UTC (RFC 3339). */
"use strict";

const GS = (() => {
  async function api(path, options = {}) {
    const headers = Object.assign({ "X-Greenshield-Web": "1" }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
    if (response.status === 401) {
      window.location.reload(); // the page answers with the sign-in form
      throw new Error("401 令牌无效 token no longer valid");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = body.error ? body.error.message : response.statusText;
      const err = new Error(`${response.status} ${message}`);
      err.status = response.status;
      throw err;
    }
    return body;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return node;
  }

  const percent = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(2)}%`);
  const integer = (n) => Number(n).toLocaleString("en-US");

  const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
  const ZONE = "北京时间 (UTC+8)";
  const pad = (n) => String(n).padStart(2, "0");

  // "2026-11-30T06:05:00Z" (any offset) -> "2026-11-30 14:05:00 北京时间 (UTC+8)"; a Date too; else the text as it is
  function beijing(value) {
    let ms;
    if (value instanceof Date) ms = value.getTime();
    else {
      const m = typeof value === "string" ? RFC3339.exec(value) : null;
      if (!m) return value === null || value === undefined ? "—" : String(value);
      const offset = m[8].toUpperCase() === "Z" ? 0 : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
      ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - offset * 60000;
    }
    const d = new Date(ms + 8 * 3600000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${ZONE}`;
  }

  function showError(err) {
    const box = document.getElementById("error");
    if (!box) return;
    box.hidden = !err;
    box.textContent = err ? `错误 Error: ${err.message}` : "";
  }

  return { api, el, percent, integer, showError, beijing, ZONE };
})();
