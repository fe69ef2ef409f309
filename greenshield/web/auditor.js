/* The auditor page: search traces, and verify each event's audit proof in this browser (see merkle.js). */
"use strict";

(() => {
  const { api, el, showError, beijing } = GS;
  const M = Merkle;
  const KEY = "gs.pinnedKey";
  const LAST = "gs.lastCheckpoint";
  const PATHS = { waybill: "parcels", vehicle: "vehicles", staff: "staff", machine: "machines" };
  let rows = [];

  function pinned() {
    const text = localStorage.getItem(KEY);
    return text ? M.rawKey(text) : null;
  }

  async function showPinned() {
    const raw = (() => { try { return pinned(); } catch { return null; } })();
    document.getElementById("pinned-id").textContent = raw ? `key id ${M.hex(await M.sha256(raw)).slice(0, 16)}…` : "—";
    const last = JSON.parse(localStorage.getItem(LAST) || "null");
    document.getElementById("last-checkpoint").textContent = last ? `size ${last.tree_size}, root ${last.root_hash.slice(0, 16)}…` : "—";
  }

  async function checkEntry(ev, proof) {
    const entry = M.b64(proof.entry.base64);
    const doc = JSON.parse(new TextDecoder().decode(entry));
    if (doc.kind !== "event" || doc.event_id !== ev.event_id || doc.enterprise_id !== ev.enterprise_id || doc.type !== ev.type) {
      throw new Error("the entry names another event");
    }
    const leaf = await M.leafHash(entry);
    if (!M.equal(leaf, M.unhex(proof.leaf_hash))) throw new Error("leaf hash ≠ SHA-256(0x00 || entry)");
    const path = proof.audit_path.map(M.unhex);
    const root = await M.rootFromInclusion(proof.leaf_index, proof.tree_size, leaf, path);
    if (!M.equal(root, M.unhex(proof.root_hash))) throw new Error("the audit path leads to another root");
    const cp = proof.checkpoint;
    if (cp.tree_size !== proof.tree_size || cp.root_hash !== proof.root_hash) throw new Error("checkpoint ≠ proof's tree");
    return cp;
  }

  async function checkHistory(cp) {
    const last = JSON.parse(localStorage.getItem(LAST) || "null");
    if (!last || last.tree_size > cp.tree_size) return;
    if (last.tree_size === cp.tree_size) {
      if (last.root_hash !== cp.root_hash) throw new Error("same tree size, different root: the log forked");
      return;
    }
    const c = await api(`/v1/audit/consistency?first=${last.tree_size}&second=${cp.tree_size}`);
    if (c.second_root !== cp.root_hash) throw new Error("consistency proof for another tree");
    await M.verifyConsistency(last.tree_size, cp.tree_size, M.unhex(last.root_hash), M.unhex(cp.root_hash),
      c.proof.map(M.unhex));
  }

  async function verify(ev, cell) {
    cell.replaceChildren("…");
    try {
      const proof = await api(`/v1/audit/proof/${ev.audit_entry}`);
      const cp = await checkEntry(ev, proof);
      await checkHistory(cp);
      const key = pinned();
      const signature = key ? await M.verifyCheckpoint(cp, key) : "no key";
      if (signature === "verified") {
        localStorage.setItem(LAST, JSON.stringify({ tree_size: cp.tree_size, root_hash: cp.root_hash }));
        showPinned();
        mark(cell, "verified", "✓ 已验证 Verified", `leaf ${proof.leaf_index} in tree ${cp.tree_size}, signed ${beijing(cp.timestamp)}`);
      } else {
        const why = signature === "no key" ? "未固定公钥 no pinned key" : "浏览器不支持 Ed25519 browser lacks Ed25519";
        mark(cell, "unchecked", `⚠ 路径正确，签名未验 Path OK, signature not checked (${why})`, "");
      }
    } catch (err) {
      mark(cell, "failed", `✗ 验证失败 Failed: ${err.message}`, "");
    }
  }

  function mark(cell, status, text, title) {
    cell.dataset.status = status;
    cell.replaceChildren(el("span", { class: status, title }, text));
  }

  function eventRow(ev) {
    const cell = el("td", { id: `proof-${ev.audit_entry}`, "data-status": "" });
    if (ev.audit_entry === null || ev.audit_entry === undefined) cell.append("待定 pending");
    else cell.append(el("button", { type: "button", onclick: () => verify(ev, cell) }, "验证 Verify"));
    const sender = ev.type === "acceptance" && ev.sender ? `${ev.sender.name_masked ?? "—"} ${ev.sender.id_number_masked ?? ""}` : "";
    const detail = [...new Set([ev.machine_id, ev.vehicle_id, ev.result, ev.method, sender].filter(Boolean))].join(" · ");
    rows.push({ ev, cell });
    return el("tr", { "data-entry": ev.audit_entry ?? "" }, el("td", { class: "num" }, ev.audit_entry ?? "—"),
      el("td", { class: "time" }, beijing(ev.occurred_at)), el("td", {}, ev.type), el("td", {}, ev.waybill_no ?? ""), el("td", {}, ev.event_id),
      el("td", {}, ev.enterprise_id), el("td", {}, ev.site_id ?? ""), el("td", {}, (ev.roles || []).join("/") || ev.staff_id || "—"),
      el("td", {}, detail), cell);
  }

  function render(result) {
    rows = [];
    const events = result.events || [];
    document.querySelector("#results tbody").replaceChildren(...events.map(eventRow));
    const legs = result.legs || [];
    document.getElementById("legs").replaceChildren(...(legs.length ? [el("table", { id: "legs-table" },
      el("thead", {}, el("tr", {}, ...["运单 Waybill", "自 From", "至 To", "发车 Departed", "到达 Arrived"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...legs.map((g) => el("tr", {}, el("td", {}, g.waybill_no), el("td", {}, g.from_site_id ?? "—"),
        el("td", {}, g.to_site_id ?? "—"), el("td", {}, beijing(g.departed_at)), el("td", {}, beijing(g.arrived_at))))))] : []));
    document.getElementById("violations").replaceChildren(...(result.violations || []).map((v) =>
      el("li", { class: v.status }, `${v.rule_id} · ${v.severity} · ${v.status} · ${v.message}`)));
    const waybills = result.waybills ? `${result.waybills.length} 件运单 waybills · ` : "";
    document.getElementById("summary").textContent = `${waybills}${events.length} 条事件 events` +
      (legs.length ? ` · ${legs.length} 段行程 legs` : "");
    document.getElementById("verify-all").hidden = !rows.some((r) => r.ev.audit_entry !== null && r.ev.audit_entry !== undefined);
  }

  async function search(e) {
    e.preventDefault();
    const kind = document.getElementById("kind").value;
    const id = document.getElementById("query-id").value.trim();
    try {
      const result = kind === "sender"
        ? await api("/v1/senders/lookup", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ id_type: document.getElementById("id-type").value, id_number: id }) })
        : await api(`/v1/${PATHS[kind]}/${encodeURIComponent(id)}/trace`);
      if (kind === "sender") document.getElementById("query-id").value = "";
      render(result);
      showError(null);
    } catch (err) {
      render({});
      showError(err.status === 404 ? new Error("未找到 Not found") : err);
    }
  }

  async function treeSize() {
    try {
      const c = await api("/v1/audit/checkpoints?limit=1");
      document.getElementById("tree-size").textContent = c.tree_size;
    } catch (err) {
      showError(err);
    }
  }

  function start() {
    document.getElementById("search").addEventListener("submit", search);
    document.getElementById("kind").addEventListener("change", (e) => {
      document.getElementById("id-type-label").hidden = e.target.value !== "sender";
      document.getElementById("query-id").type = e.target.value === "sender" ? "password" : "text";
    });
    document.getElementById("verify-all").addEventListener("click", async () => {
      for (const r of rows) if (r.ev.audit_entry !== null && r.ev.audit_entry !== undefined) await verify(r.ev, r.cell);
    });
    document.getElementById("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = document.getElementById("pinned-key").value.trim();
      try { M.rawKey(text); localStorage.setItem(KEY, text); showError(null); } catch (err) { showError(err); }
      showPinned();
    });
    document.getElementById("fetch-key").addEventListener("click", async () => {
      try {
        const k = await api("/v1/audit/public-key");
        localStorage.setItem(KEY, k.raw_base64);
        document.getElementById("pinned-key").value = k.raw_base64;
        showPinned();
      } catch (err) { showError(err); }
    });
    showPinned();
    treeSize();
    document.body.dataset.loaded = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
