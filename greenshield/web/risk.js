/* The risk page: the city map by warning level, rankings per kind with their evidence, credit grades, warnings.
   Everything shown is what /v1 answers this token (an enterprise's token: its own); no HTML is built from data. */
"use strict";

(() => {
  const { api, el, integer, showError, beijing } = GS;
  const { svg } = Geo;
  const LEVELS = { blue: "蓝 blue", yellow: "黄 yellow", orange: "橙 orange", red: "红 red" };
  const GRADE_RANK = { A: 1, B: 2, C: 3, D: 4 };
  const TOP = 10;
  const ranks = {};

  const score = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(1));
  const levelText = (lv) => LEVELS[lv] || "—";
  const levelTag = (lv) => el("span", { class: `level lv-${lv || "none"}`, "data-level": lv || "" }, levelText(lv));

  function showAsOf(report) {
    document.getElementById("as-of").textContent = beijing(report.as_of);
    document.getElementById("as-of").dataset.value = report.as_of;
    document.getElementById("window").textContent = report.window;
  }

  // --- the map

  async function drawMap() {
    const box = document.getElementById("map");
    let report;
    try {
      report = await api("/v1/risk/city?top=1000");
    } catch (err) {
      if (err.status !== 403) throw err;
      box.remove();
      document.getElementById("map-note").hidden = false;
      return;
    }
    document.getElementById("nav-dashboard").hidden = false; // the regulator's token: the dashboard is there too
    showAsOf(report);
    const byCode = new Map(report.results.map((r) => [r.source, r]));
    const cities = await Geo.load((path) => api(path));
    const project = Geo.projection(cities, 600, 640, 12);
    const labelled = new Set();
    const shapes = [], labels = [];
    for (const c of cities) {
      const r = byCode.get(c.code);
      const lv = r ? r.level : null;
      const tip = r ? `${c.name} ${c.code} · ${levelText(lv)} · ${score(r.score)}‰ · ${integer(r.parcels)} 件 parcels`
        : `${c.name} ${c.code} · 无数据 no parcels`;
      const path = svg("path", { d: Geo.pathData(c.polygons, project), class: `city lv-${lv || "none"}`,
        "data-code": c.code, "data-level": lv || "", "data-name": c.name }, svg("title", {}, tip));
      if (r) path.addEventListener("click", () => selectKind("city", c.code));
      shapes.push(path);
      if (!labelled.has(c.code) && Array.isArray(c.cp)) {
        labelled.add(c.code);
        const [x, y] = project(c.cp);
        labels.push(svg("text", { x: x.toFixed(1), y: y.toFixed(1), class: "city-label" },
          c.code === "310100" ? "上海" : c.name.replace(/市$/, "")));
      }
    }
    box.replaceChildren(...shapes, ...labels);
    box.dataset.drawn = "true";
  }

  // --- rankings and evidence

  function trendText(t) {
    if (!t || t.direction === "new") return "新 new";
    const arrow = { up: "↑", down: "↓", steady: "→" }[t.direction] || "";
    return `${arrow} ${t.change > 0 ? "+" : ""}${score(t.change)} (上期 prev ${score(t.previous)}, ${levelText(t.previous_level)})`;
  }

  function evidence(r) {
    const box = document.getElementById("evidence");
    const rules = Object.entries(r.violations || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const ids = r.violation_ids || [];
    const more = (r.violation_ids_total || ids.length) - ids.length;
    box.replaceChildren(
      el("h3", {}, `证据 Evidence · ${r.kind} ${r.source}`),
      el("p", {}, `评分 score ${score(r.score)}‰ · 区间 interval [${score(r.interval[0])}, ${score(r.interval[1])}]‰ · `,
        levelTag(r.level), ` · ${integer(r.parcels)} 件 parcels`),
      el("p", { id: "evidence-trend" }, `趋势 Trend: ${trendText(r.trend)}`),
      el("table", { id: "evidence-rules" }, el("thead", {}, el("tr", {}, el("th", {}, "规则 Rule"),
        el("th", { class: "num" }, "次数 Count"))),
      el("tbody", {}, ...rules.map(([rule, n]) => el("tr", { "data-rule": rule }, el("td", {}, rule),
        el("td", { class: "num" }, integer(n)))))),
      el("h4", {}, `违规编号 Violation ids (${integer(r.violation_ids_total ?? ids.length)})`),
      el("ul", { id: "evidence-ids", class: "ids" }, ...ids.map((id) => el("li", { class: "mono" }, id))),
      more > 0 ? el("p", { class: "note" }, `另有 ${integer(more)} 条未列出 more not listed`) : "");
    box.hidden = false;
    box.dataset.source = r.source;
  }

  function rankingRow(r) {
    const row = el("tr", { "data-source": r.source, class: "clickable", tabindex: "0" },
      el("td", { class: "num" }, String(r.rank)), el("td", { class: "mono" }, r.source),
      el("td", {}, r.enterprise_id ?? "—"), el("td", { class: "num", "data-field": "score" }, score(r.score)),
      el("td", {}, `[${score(r.interval[0])}, ${score(r.interval[1])}]`), el("td", {}, levelTag(r.level)),
      el("td", { class: "num" }, integer(r.parcels)), el("td", {}, trendText(r.trend)));
    const open = () => {
      for (const tr of row.parentNode.children) tr.classList.toggle("selected", tr === row);
      evidence(r);
    };
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return row;
  }

  async function loadKind(kind) {
    if (!ranks[kind]) ranks[kind] = api(`/v1/risk/${kind}?top=${TOP}`);
    return ranks[kind];
  }

  async function selectKind(kind, source) {
    for (const b of document.querySelectorAll("#kinds button")) b.classList.toggle("active", b.dataset.kind === kind);
    const body = document.querySelector("#ranking tbody");
    const note = document.getElementById("ranking-note");
    document.getElementById("evidence").hidden = true;
    document.getElementById("ranking").dataset.kind = kind;
    try {
      const report = await loadKind(kind);
      showAsOf(report);
      note.textContent = `${integer(report.sources)} 个来源 sources · 区域基准 regional rate ${score(report.regional_rate)}‰ · ` +
        `模型 model ${report.model}`;
      body.replaceChildren(...report.results.map(rankingRow));
      const row = source ? [...body.children].find((tr) => tr.dataset.source === source) : null;
      if (row) row.click();
    } catch (err) {
      body.replaceChildren();
      note.textContent = err.status === 403 ? "此类风险跨企业，仅监管部门可见 Spans enterprises: regulators only" : err.message;
    }
    document.getElementById("ranking").dataset.loaded = kind;
  }

  // --- credit and warnings

  function previousPeriod(period) {
    const q = /^(\d{4})Q([1-4])$/.exec(period);
    if (q) return q[2] === "1" ? `${+q[1] - 1}Q4` : `${q[1]}Q${+q[2] - 1}`;
    const [y, m] = period.split("-").map(Number);
    return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
  }

  function change(now, before) {
    if (!before) return ["new", "新 new"];
    const d = GRADE_RANK[now] - GRADE_RANK[before];
    return d > 0 ? ["down", `↓ 降级 down ${before}→${now}`] : d < 0 ? ["up", `↑ 升级 up ${before}→${now}`] : ["same", "= 持平 same"];
  }

  async function loadCredit() {
    const current = await api("/v1/credit");
    const prev = previousPeriod(current.period);
    const before = await api(`/v1/credit?period=${prev}`);
    const was = new Map(before.grades.map((g) => [g.enterprise_id, g.grade]));
    document.getElementById("credit-period").textContent = `(${current.period})`;
    document.getElementById("previous-period").textContent = `(${prev})`;
    const grades = [...current.grades].sort((a, b) => a.score - b.score || a.enterprise_id.localeCompare(b.enterprise_id));
    document.querySelector("#credit-table tbody").replaceChildren(...grades.map((g) => {
      const [dir, text] = change(g.grade, was.get(g.enterprise_id));
      return el("tr", { "data-enterprise": g.enterprise_id },
        el("td", {}, g.enterprise_id), el("td", { class: "num" }, score(g.score)),
        el("td", { "data-field": "grade", class: `grade grade-${g.grade}` }, `${g.grade} ${g.grade_zh ?? ""}`.trim()),
        el("td", { "data-field": "previous" }, was.get(g.enterprise_id) ?? "—"),
        el("td", { "data-field": "change", class: `change ${dir}` }, text),
        el("td", { class: "num" }, g.audit_entry ?? "待定 pending"));
    }));
  }

  async function loadWarnings() {
    const { items } = await api("/v1/warnings?limit=100");
    document.querySelector("#warnings-table tbody").replaceChildren(...items.map((w) => {
      const lv = w.subject_kind === "credit" ? el("span", { class: `grade grade-${w.level}` }, w.level) : levelTag(w.level);
      return el("tr", { "data-kind": w.subject_kind, "data-subject": w.subject_id },
        el("td", { class: "time", "data-value": w.at }, beijing(w.at)), el("td", {}, w.subject_kind),
        el("td", { class: "mono" }, w.subject_id), el("td", {}, lv),
        el("td", {}, w.previous_level ?? "—"), el("td", {}, w.reason === "grade_fell" ? "等级下降 grade fell" : "等级上升 level rose"),
        el("td", {}, w.enterprise_id ?? "—"), el("td", { class: "num" }, w.audit_entry ?? "—"));
    }));
  }

  async function start() {
    for (const b of document.querySelectorAll("#kinds button")) b.addEventListener("click", () => selectKind(b.dataset.kind));
    const done = await Promise.allSettled([drawMap(), selectKind("enterprise"), loadCredit(), loadWarnings()]);
    const failed = done.find((d) => d.status === "rejected");
    showError(failed ? failed.reason : null);
    document.body.dataset.loaded = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
