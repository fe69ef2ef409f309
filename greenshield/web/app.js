/* The regulator dashboard: KPIs, charts and tables from GET /v1/stats, polled; violations; parcel drill-down. */
"use strict";

(() => {
  const { api, el, percent, integer, showError, beijing } = GS;
  const REFRESH_MS = 5000;
  const TOP = 10;
  const charts = {};
  let cursor = null;
  let filter = {};

  function setFigure(id, value, text) {
    const node = document.getElementById(id);
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    node.textContent = text;
  }

  function renderKpis(stats) {
    setFigure("kpi-events-rate", stats.events.per_second, stats.events.per_second.toFixed(1));
    setFigure("kpi-events-total", stats.events.total, integer(stats.events.total));
    setFigure("kpi-open", stats.violations.open, integer(stats.violations.open));
    setFigure("kpi-retracted", stats.violations.retracted, integer(stats.violations.retracted));
    for (const s of stats.systems) {
      if (document.getElementById(`kpi-rate-${s.system}`)) {
        setFigure(`kpi-rate-${s.system}`, s.compliance_rate, percent(s.compliance_rate));
      }
    }
  }

  function chart(id, type, labels, data, label, color) {
    const dataset = { label, data, backgroundColor: color, borderColor: color, fill: false, tension: 0.2 };
    if (charts[id]) {
      charts[id].data.labels = labels;
      charts[id].data.datasets[0].data = data;
      charts[id].update("none");
      return;
    }
    charts[id] = new Chart(document.getElementById(id), {
      type,
      data: { labels, datasets: [dataset] },
      options: {
        animation: false, responsive: true, indexAxis: type === "bar" ? "y" : "x",
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true }, y: { beginAtZero: true } },
      },
    });
  }

  function renderCharts(stats) {
    const hours = stats.by_hour;
    chart("chart-hours", "line", hours.map((h) => beijing(h.hour).slice(5, 13) + "h"),
      hours.map((h) => h.open), "未结违规 Open violations", "#c0392b");
    const ents = stats.by_enterprise.filter((e) => e.open > 0).slice(0, TOP);
    chart("chart-enterprises", "bar", ents.map((e) => e.enterprise_id), ents.map((e) => e.open),
      "未结违规 Open violations", "#1b6b3a");
    const cities = stats.by_prefecture.filter((c) => c.open > 0).slice(0, TOP);
    chart("chart-cities", "bar", cities.map((c) => `${c.name} ${c.prefecture ?? ""}`), cities.map((c) => c.open),
      "未结违规 Open violations", "#2d6fa3");
  }

  function renderPrefectures(stats) {
    const body = document.querySelector("#prefecture-table tbody");
    body.replaceChildren(...stats.by_prefecture.map((c) => {
      const rate = c.parcels ? 1 - c.violating_parcels / c.parcels : null;
      return el("tr", { "data-prefecture": c.prefecture ?? "" },
        el("td", {}, c.prefecture ?? "—"), el("td", {}, c.name),
        el("td", { class: "num", "data-field": "parcels" }, integer(c.parcels)),
        el("td", { class: "num", "data-field": "open" }, integer(c.open)),
        el("td", { class: "num", "data-field": "violating_parcels" }, integer(c.violating_parcels)),
        el("td", { class: "num" }, percent(rate)));
    }));
  }

  function renderRules(stats) {
    const body = document.querySelector("#rule-table tbody");
    body.replaceChildren(...stats.by_rule.map((r) => el("tr", { "data-rule": r.rule_id },
      el("td", {}, r.rule_id), el("td", {}, r.system),
      el("td", { class: "num", "data-field": "open" }, integer(r.open)),
      el("td", { class: "num", "data-field": "retracted" }, integer(r.retracted)))));
  }

  async function refresh() {
    try {
      const stats = await api("/v1/stats");
      renderKpis(stats);
      renderCharts(stats);
      renderPrefectures(stats);
      renderRules(stats);
      document.getElementById("updated").textContent = beijing(new Date());
      document.body.dataset.loaded = "true";
      showError(null);
    } catch (err) {
      showError(err);
    }
  }

  function waybillLink(waybill) {
    return el("a", { href: `#trace-${waybill}`, class: "waybill", onclick: (e) => { e.preventDefault(); trace(waybill); } },
      waybill);
  }

  async function loadViolations(reset) {
    if (reset) cursor = null;
    const params = new URLSearchParams({ status: "open", limit: "50", ...filter });
    if (cursor) params.set("cursor", cursor);
    try {
      const page = await api(`/v1/violations?${params}`);
      const body = document.querySelector("#violations-table tbody");
      const rows = page.items.map((v) => el("tr", {},
        el("td", {}, waybillLink(v.waybill_no)), el("td", {}, v.rule_id),
        el("td", { class: `severity ${v.severity}` }, v.severity), el("td", {}, v.enterprise_id),
        el("td", { class: "time" }, beijing(v.occurred_at)), el("td", {}, v.message)));
      if (reset) body.replaceChildren(...rows); else body.append(...rows);
      cursor = page.next_cursor;
      document.getElementById("more").hidden = !cursor;
      showError(null);
    } catch (err) {
      showError(err);
    }
  }

  function eventRow(ev) {
    const device = ev.machine_id || ev.vehicle_id || "";
    let detail = ev.result || ev.method || "";
    if (ev.type === "acceptance") {
      const s = ev.sender || {};
      detail = `寄件人 sender ${s.name_masked ?? "—"} ${s.id_number_masked ?? ""}`;
    }
    return el("tr", {}, el("td", { class: "time" }, beijing(ev.occurred_at)), el("td", {}, ev.type), el("td", {}, ev.event_id),
      el("td", {}, ev.site_id ?? ""), el("td", {}, ev.staff_id ?? "—"), el("td", {}, device), el("td", {}, detail),
      el("td", { class: "num" }, ev.audit_entry ?? "待定 pending"));
  }

  async function trace(waybill) {
    const box = document.getElementById("trace");
    document.getElementById("trace-waybill").value = waybill;
    box.replaceChildren(el("p", {}, "加载中 Loading…"));
    try {
      const t = await api(`/v1/parcels/${encodeURIComponent(waybill)}/trace`);
      const head = el("tr", {}, ...["时间 Time", "类型 Type", "事件 Event", "网点 Site", "人员 Staff", "设备 Device",
        "结果 Result", "审计条目 Audit entry"].map((h) => el("th", {}, h)));
      const events = el("table", { id: "trace-events" }, el("thead", {}, head),
        el("tbody", {}, ...t.events.map(eventRow)));
      // contract §8.1: one parcel per enterprise; with several, each line names its enterprise
      const parcels = (t.parcels || []).map((p) => p.enterprise_id);
      const whose = (v) => (parcels.length > 1 ? `${v.enterprise_id} · ` : "");
      const violations = el("ul", { id: "trace-violations" }, ...t.violations.map((v) =>
        el("li", { class: v.status }, `${whose(v)}${v.rule_id} · ${v.severity} · ${v.status} · ${v.message}`)));
      const title = `运单 Waybill ${t.waybill_no}` + (parcels.length ? ` · 企业 Enterprise ${parcels.join(" / ")}` : "");
      box.replaceChildren(el("h3", {}, title), events,
        el("h4", {}, `违规 Violations (${t.violations.length})`), violations);
      document.getElementById("trace-panel").scrollIntoView({ behavior: "smooth" });
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, err.status === 404 ? "未找到 Not found" : err.message));
    }
  }

  function start() {
    document.getElementById("filter").addEventListener("submit", (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      filter = Object.fromEntries([...form.entries()].filter(([, v]) => v.trim()).map(([k, v]) => [k, v.trim()]));
      loadViolations(true);
    });
    document.getElementById("more").addEventListener("click", () => loadViolations(false));
    document.getElementById("trace-form").addEventListener("submit", (e) => {
      e.preventDefault();
      trace(document.getElementById("trace-waybill").value.trim());
    });
    refresh();
    loadViolations(true);
    setInterval(() => {
      const paused = document.getElementById("pause").checked;
      document.getElementById("live").classList.toggle("paused", paused);
      if (!paused && !document.hidden) refresh();
    }, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
