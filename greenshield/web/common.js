/* Shared by the dashboard and the auditor page: calls to /v1 with the sign-in cookie, formatting. */
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

  function showError(err) {
    const box = document.getElementById("error");
    if (!box) return;
    box.hidden = !err;
    box.textContent = err ? `错误 Error: ${err.message}` : "";
  }

  return { api, el, percent, integer, showError };
})();
