// The report page's behaviour (analysis/report.py inlines this after the Bokeh document).
// Every statistic of the selected time range is a sum over the per-bin aggregates the analysis
// wrote (analysis/timeline.py) or a count over the captures in range; analysis/stats.py defines them.
// Text reaches the page through textContent only: booth names and sessions may hold < or &.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("fse-data").textContent);
  const B = data.bins;
  let doc = null;
  // bins 0 .. B.count - 1 are the timeline's; bin B.count holds the points whose clock was not set
  // (timeline.py: CLOCK_SET_AFTER), counted in while `unset` is on.
  const fse = window.fse = {ready: false, state: {bin0: 0, bin1: B.count, unset: true, colour: "class", session: -1}};

  function unpack(b64, Type) {
    if (!b64) return new Type(0);
    const raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const density = data.trail.density && {
    bins: unpack(data.trail.density.bins, Uint16Array), cells: unpack(data.trail.density.cells, Uint32Array),
    counts: unpack(data.trail.density.counts, Uint32Array), n: data.trail.density.n};
  const visits = {bins: unpack(data.trail.visits.bins, Uint16Array), cells: unpack(data.trail.visits.cells, Uint32Array)};

  const model = (name) => doc.get_model_by_name(name);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const num = (x) => Number(x).toLocaleString("en");
  const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);
  const binOf = (tms) => tms < B.clockSetAfter ? B.count : Math.max(0, Math.min(B.count - 1, Math.floor((tms - B.start) / B.width)));
  const inBins = (b) => (b >= fse.state.bin0 && b < fse.state.bin1) || (b === B.count && fse.state.unset);

  // -- what is in the selected time range ----------------------------------------------------
  function capturesInRange() {
    const t = model("capture_data").data.t, out = [];
    for (let i = 0; i < t.length; i++) if (inBins(binOf(t[i]))) out.push(i);
    return out;
  }
  function sessionsInRange() {
    const t0 = B.start + fse.state.bin0 * B.width, t1 = B.start + fse.state.bin1 * B.width;
    const all = fse.state.bin0 === 0 && fse.state.bin1 === B.count;
    return data.sessions.map((s, i) => i).filter((i) => {
      const s = data.sessions[i];
      if (s.t0 < B.clockSetAfter) return fse.state.unset;
      return all || (s.t1 >= t0 && s.t0 < t1);
    });
  }

  // The slider's value is a time range in ms; the page works in whole bins.
  function timeChanged(value) {
    const bin = (ms) => Math.round((ms - B.start) / B.width);
    fse.state.bin0 = Math.max(0, Math.min(B.count - 1, bin(value[0])));
    fse.state.bin1 = Math.max(fse.state.bin0 + 1, Math.min(B.count, bin(value[1])));
    applyRange();
  }
  function unsetChanged(active) {
    fse.state.unset = active;
    applyRange();
  }
  function applyRange() {
    const captures = capturesInRange();
    // A selection is what is visible: captures the time range hides leave it (and its CSV).
    const selected = model("capture_data").selected, visible = new Set(captures);
    const kept = selected.indices.filter((i) => visible.has(i));
    if (kept.length !== selected.indices.length) selected.indices = kept;
    model("captures_filter").indices = captures;
    const nCaptures = model("capture_data").data.t.length, nPoints = model("point_data").data.x.length;
    const points = captures.slice();
    for (let i = nCaptures; i < nPoints; i++) points.push(i);
    model("points_filter").indices = points;
    const paths = [];
    for (const i of sessionsInRange()) if (data.sessions[i].path >= 0) paths.push(data.sessions[i].path);
    model("paths_filter").indices = paths.sort((a, b) => a - b);
    if (density) {
      const image = model("trail_image").data.image[0], sums = new Float64Array(image.length);
      for (let i = 0; i < density.bins.length; i++) if (inBins(density.bins[i])) sums[density.cells[i]] += density.counts[i];
      for (let i = 0; i < sums.length; i++) image[i] = Math.log1p(sums[i]);
      model("trail_image").change.emit();
    }
    const box = model("time_box");
    box.left = B.start + fse.state.bin0 * B.width;
    box.right = B.start + fse.state.bin1 * B.width;
    document.getElementById("time-range") && (document.getElementById("time-range").textContent = rangeText());
    renderStats();
    selectionChanged();
  }
  function rangeText() {
    const a = B.start + fse.state.bin0 * B.width, b = B.start + fse.state.bin1 * B.width;
    const unset = data.trail.count[B.count] + model("capture_data").data.t.filter((t) => t < B.clockSetAfter).length;
    const whole = fse.state.bin0 === 0 && fse.state.bin1 === B.count && (fse.state.unset || !unset);
    return `${utc(a)} to ${utc(b)} UTC` + (unset && fse.state.unset ? ", and the points whose clock was not set" : "") +
      (whole ? " (everything)" : "");
  }

  // -- colour by ------------------------------------------------------------------------------
  function colourChanged(key) {
    fse.state.colour = key;
    const source = model("capture_data");
    source.data.colour = source.data["colour_" + key].slice();
    source.change.emit();
    data.classNames.forEach((name, k) => {
      const glyph = model("training " + name).glyph, colour = key === "class" ? data.classColours[k % 10] : data.paleGrey;
      glyph.fill_color = colour;
      glyph.line_color = colour;
    });
    // the legend names the classes only while they have their colours
    for (const item of model("legend").items) {
      if (item.name === "legend_class") item.visible = key === "class";
      if (item.name === "legend_training") item.visible = key !== "class";
    }
    renderColourKey();
  }
  function renderColourKey() {
    const key = fse.state.colour, palette = data.palettes[key], list = document.getElementById("colour-key");
    const present = new Set(model("capture_data").data["group_" + key]);
    list.replaceChildren(...Object.entries(palette).filter(([v]) => key === "class" || present.has(v)).map(([v, c]) =>
      el("li", {}, el("span", {class: "swatch", style: `background:${c}`}), v)));
    list.previousElementSibling.textContent = "Colour key: captures by " + data.colourBy[key].toLowerCase() +
      (key === "class" ? "" : " (training designs in grey)");
  }

  // -- details of a clicked point ---------------------------------------------------------------
  function pointPicked() {
    const points = model("point_data"), hits = points.selected.indices;
    if (hits.length === 0) return;
    const d = points.data;
    const i = hits.reduce((best, j) => d.priority[j] < d.priority[best] ? j : best, hits[0]);
    if (hits.length > 1) { points.selected.indices = [i]; return; }  // one ring, one point
    const capture = d.capture[i];
    const body = document.getElementById("details-body");
    document.getElementById("details-empty").hidden = true;
    const figures = capture >= 0
      ? [figure(model("capture_data").data.image[capture], "photographed, with its print", false),
         figure(d.left[i], "the 28x28 design", true)]
      : [figure(d.left[i], "training image", true), figure(d.right[i], "decoded design", true)];
    const facts = [["class", d.class_name[i]]];
    if (capture >= 0) {
      const c = model("capture_data").data;
      facts.push(["print", c.csv_print[capture]], ["how reached", c.csv_how[capture]], ["booth", c.csv_booth[capture]],
                 ["session", c.csv_session[capture]], ["time (UTC)", c.csv_utc[capture]],
                 ["training support", c.csv_outside_support[capture] ? "outside" : "inside"]);
    }
    facts.push(["z", d.ztext[i]]);
    const command = el("code", {class: "command", id: "details-command", text: d.command[i]});
    const copy = el("button", {type: "button", id: "copy-command", text: "Copy command"});
    copy.addEventListener("click", () => copyText(d.command[i], copy));
    body.replaceChildren(el("h3", {text: d.title[i]}), el("div", {class: "pair"}, ...figures),
      el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})])),
      el("p", {text: "Open it in the kiosk:"}), command, copy);
  }
  function figure(src, caption, pixelated) {
    if (!src) return el("figure", {}, el("figcaption", {text: caption + ": not in this page (too many captures)"}));
    return el("figure", {}, el("img", {src, alt: caption, class: "large" + (pixelated ? " pixelated" : "")}),
              el("figcaption", {text: caption}));
  }
  function copyText(text, button) {
    const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy command"; }, 1500); };
    const fallback = () => {
      const area = el("textarea", {}); area.value = text; document.body.append(area); area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }

  // -- sessions ------------------------------------------------------------------------------
  function pathPicked() {
    const hits = model("path_data").selected.indices;
    if (hits.length === 0) return;
    pickSession(model("path_data").data.row[hits[hits.length - 1]], false);
  }
  function pathHovered(cbData) {
    const hits = cbData.index.indices, note = document.getElementById("path-note");
    if (!hits.length) return;
    const d = model("path_data").data, i = hits[hits.length - 1];
    note.textContent = `Path under the pointer: session ${d.session[i]} (${d.booth[i]}, ${d.duration[i]}, ` +
      `${d.captures[i]} capture${d.captures[i] === 1 ? "" : "s"}); click its row in the sessions table to follow it.`;
  }
  function pickSession(row, fromTable) {
    fse.state.session = row;
    const s = data.sessions[row];
    if (fromTable) model("path_data").selected.indices = s.path >= 0 ? [s.path] : [];
    const c = model("capture_data").data, inRange = new Set(capturesInRange());
    model("capture_data").selected.indices = c.csv_session.map((v, i) => i).filter((i) => c.csv_session[i] === s.session && inRange.has(i));
    for (const tr of document.querySelectorAll("table.sessions tbody tr"))
      tr.classList.toggle("picked", Number(tr.dataset.row) === row);
    document.getElementById("details-empty").hidden = true;
    document.getElementById("details-body").replaceChildren(el("h3", {text: "Session " + s.session}),
      el("dl", {}, ...[["booth", s.booth], ["started (UTC)", s.started_utc], ["duration", s.duration_s + " s"],
                       ["captures", String(s.captures)], ["trail points", num(s.trail_points)]]
        .flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})])),
      el("p", {class: "note", text: s.path >= 0 ? "Its path is drawn in pink, its captures are selected." :
                                                  "This session left no trail."}));
  }

  // -- selection and CSV ----------------------------------------------------------------------
  const selectedVisible = () => {
    const visible = new Set(capturesInRange());
    return model("capture_data").selected.indices.filter((i) => visible.has(i)).sort((a, b) => a - b);
  };
  function selectionChanged() {
    const n = selectedVisible().length;
    document.getElementById("selection-count").textContent = n ? `${n} capture${n > 1 ? "s" : ""} selected.` : "No captures selected.";
    document.getElementById("download-csv").disabled = n === 0;
  }
  function csvText(indices) {
    const c = model("capture_data").data;
    const quote = (v) => { const s = String(v); return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
    const lines = [data.csvColumns.join(",")];
    for (const i of indices) lines.push(data.csvColumns.map((k) => quote(c["csv_" + k][i])).join(","));
    return lines.join("\r\n") + "\r\n";
  }
  function downloadCsv() {
    const indices = selectedVisible();
    const url = URL.createObjectURL(new Blob([csvText(indices)], {type: "text/csv"}));
    const a = el("a", {href: url, download: "captures-selection.csv"});
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // -- statistics of the selected range ----------------------------------------------------------
  function table(headers, rows, numeric, cls) {
    return el("table", {class: "fse" + (cls ? " " + cls : "")},
      el("thead", {}, el("tr", {}, ...headers.map((h, j) => el("th", {text: h, class: numeric[j] ? "num" : ""})))),
      el("tbody", {}, ...rows.map((r) => el("tr", r.attrs || {}, ...r.cells.map((v, j) =>
        el("td", {text: String(v), class: numeric[j] ? "num" : ""}))))));
  }
  function countBy(values, indices) {
    const m = new Map();
    for (const i of indices) m.set(values[i], (m.get(values[i]) || 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
  }
  function median(xs) {
    if (!xs.length) return 0;
    const s = xs.slice().sort((a, b) => a - b), m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  fse.rangeStats = function () {
    const c = model("capture_data").data, idx = capturesInRange(), names = data.classNames;
    let trail = 0, outside = 0;
    const trailClasses = names.map(() => 0);
    const bins = [];
    for (let b = fse.state.bin0; b < fse.state.bin1; b++) bins.push(b);
    if (fse.state.unset) bins.push(B.count);
    for (const b of bins) {
      trail += data.trail.count[b];
      outside += data.trail.outside[b];
      data.trail.classes[b].forEach((v, k) => { trailClasses[k] += v; });
    }
    const visited = new Set();
    for (let i = 0; i < visits.bins.length; i++) if (inBins(visits.bins[i])) visited.add(visits.cells[i]);
    const captureClasses = names.map(() => 0);
    let captureOutside = 0;
    for (const i of idx) { captureClasses[c.class_index[i]] += 1; captureOutside += c.csv_outside_support[i]; }
    const cellCount = new Map();
    for (const i of idx) if (c.region[i] >= 0) cellCount.set(c.region[i], (cellCount.get(c.region[i]) || 0) + 1);
    const regions = [...cellCount.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, data.regions.top)
      .map(([cell, n]) => {
        const members = idx.filter((i) => c.region[i] === cell), byClass = names.map(() => 0);
        for (const i of members) byClass[c.class_index[i]] += 1;
        const main = byClass.indexOf(Math.max(...byClass));
        return {captures: n, map_region: data.regions.boxes[cell], main_class: names[main],
                examples: members.slice(0, 3).map((i) => c.csv_capture[i])};
      });
    const sessions = sessionsInRange().map((i) => data.sessions[i]);
    const durations = sessions.map((s) => s.duration_s);
    return {
      captures: idx.length, trail_points: trail, sessions: sessions.length,
      captures_outside_support: idx.length ? captureOutside / idx.length : 0,
      trail_outside_support: trail ? outside / trail : 0,
      visited_cells: visited.size, map_cells: data.trail.areaCells,
      classes: {captures: Object.fromEntries(names.map((n, k) => [n, captureClasses[k]])),
                trail: Object.fromEntries(names.map((n, k) => [n, trailClasses[k]]))},
      regions, sessionRows: sessions,
      overview: {sessions: sessions.length, median_duration_s: median(durations),
                 longest_duration_s: durations.length ? Math.max(...durations) : 0,
                 sessions_with_captures: sessions.filter((s) => s.captures > 0).length},
      indices: idx,
    };
  };

  function renderStats() {
    const s = fse.rangeStats(), c = model("capture_data").data, names = data.classNames;
    document.getElementById("headline").replaceChildren(
      el("b", {text: num(s.captures)}), " captures and ", el("b", {text: num(s.trail_points)}), " trail points from ",
      el("b", {text: num(s.sessions)}), ` sessions at ${data.booths.join(", ")}; `,
      el("span", {id: "time-range", text: rangeText()}), ".");
    const parts = [
      el("h3", {text: "Coverage"}),
      el("p", {}, "Captures outside the training support: ", el("b", {id: "stat-captures-outside", text: pct(s.captures_outside_support)}),
        "; trail outside: ", el("b", {id: "stat-trail-outside", text: pct(s.trail_outside_support)}),
        ` (farther in z from every training design of the map than the ${data.coverage.support_percentile}th percentile ` +
        `of the training designs' nearest-neighbour distances, ${data.coverage.support_threshold.toFixed(3)}; marked as diamonds on the map). ` +
        "Map area visited by the trail: ", el("b", {id: "stat-area", text: pct(s.map_cells ? s.visited_cells / s.map_cells : 0)}),
        ` (${s.visited_cells} of ${s.map_cells} cells of a ${data.trail.grid} grid that hold training designs).`),
      el("div", {class: "columns"},
        el("div", {}, el("h3", {text: "Per class"}),
          table(["class", "captures", "trail points"], names.map((n) => ({cells: [n, s.classes.captures[n], num(s.classes.trail[n])]})),
                [false, true, true], "per-class")),
        el("div", {}, el("h3", {text: "Captures by print"}),
          table(["print", "captures"], countBy(c.csv_print, s.indices).map(([k, v]) => ({cells: [k, v]})), [false, true])),
        el("div", {}, el("h3", {text: "Captures by how it was reached"}),
          table(["how", "captures"], countBy(c.csv_how, s.indices).map(([k, v]) => ({cells: [k, v]})), [false, true]))),
      el("p", {class: "note", text: data.classMethod}),
      el("h3", {text: "Most-captured regions"}),
      s.regions.length ? table(["#", "captures", "main class", "map region", "examples"],
        s.regions.map((r, i) => ({cells: [i + 1, r.captures, r.main_class, r.map_region, r.examples.join(", ")]})),
        [true, true, false, false, false], "regions") : el("p", {class: "note", text: "No captures in this time range."}),
      el("p", {class: "note", text: "An 8x8 grid over the whole map, cells ranked by the captures in them."}),
      el("h3", {text: "Sessions"}),
      el("p", {text: `${s.overview.sessions} sessions, median ${s.overview.median_duration_s} s ` +
        `(longest ${s.overview.longest_duration_s} s); ${s.overview.sessions_with_captures} took at least one photograph. ` +
        "Click a row to show its path and select its captures."}),
      el("div", {class: "scroll"}, table(["session", "booth", "started (UTC)", "duration (s)", "captures", "trail points"],
        s.sessionRows.map((r) => ({cells: [r.session, r.booth, r.started_utc.replace("T", " ").slice(0, 19), r.duration_s,
                                           r.captures, num(r.trail_points)],
                                   attrs: {"data-row": data.sessions.indexOf(r), class: data.sessions.indexOf(r) === fse.state.session ? "picked" : ""}})),
        [false, false, false, true, true, true], "sessions")),
      el("h3", {text: "How the map is made"}),
      el("p", {class: "note", text: data.method + (data.pathShare < 1 ?
        `; session paths are drawn through ${pct(data.pathShare)} of their trail points (evenly thinned).` : ".")}),
      el("p", {class: "note", text: "Bundles read: " + data.bundles.join("; ")}),
    ];
    if (data.skipped.length) {
      parts.push(el("h3", {text: "Skipped bundles"}), el("ul", {}, ...data.skipped.map(([, why]) => el("li", {text: why}))));
    }
    document.getElementById("stats").replaceChildren(...parts);
    for (const tr of document.querySelectorAll("table.sessions tbody tr"))
      tr.addEventListener("click", () => pickSession(Number(tr.dataset.row), true));
  }

  // The map takes the room the window leaves it, below the controls and the timeline and left of
  // the details, at the aspect it was written with (so the first view's box still fits); the
  // toolbar above it and the legend beside it keep their size.
  let written = null;
  function fitToWindow(again = true) {
    const map = model("map"), view = Bokeh.index.find_one(map);
    if (!view || !view.el.getBoundingClientRect().width) { setTimeout(() => fitToWindow(again), 100); return; }
    written = written || {w: map.frame_width, h: map.frame_height};
    const box = view.el.getBoundingClientRect(), note = document.getElementById("path-note");
    const roomW = document.getElementById("content").clientWidth - (box.width - map.frame_width) - 4;
    const roomH = window.innerHeight - (box.top + window.scrollY) - (box.height - map.frame_height) -
      note.getBoundingClientRect().height - 16;
    const scale = Math.max(0.5, Math.min(1.6, roomW / written.w, roomH / written.h));
    const w = Math.round(written.w * scale), h = Math.round(written.h * scale);
    if (w === map.frame_width && h === map.frame_height) return;
    map.setv({frame_width: w, frame_height: h});
    // the timeline spans the map and its legend (its own axes take ~80 px); the slider beside the colour choice
    model("timeline").frame_width = Math.max(w, Math.round(box.width - map.frame_width + w - 80));
    model("time").width = Math.max(300, w);
    if (again) setTimeout(() => fitToWindow(false), 300);  // once more, after Bokeh has laid the new sizes out
  }

  function init() {
    doc = Bokeh.documents[0];
    fitToWindow();
    let resizing = null;
    window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(() => fitToWindow(), 150); });
    Object.assign(fse, {timeChanged, unsetChanged, colourChanged, pointPicked, pathPicked, pathHovered, selectionChanged,
                        csvText, selectedVisible, pickSession});
    document.getElementById("download-csv").addEventListener("click", downloadCsv);
    document.getElementById("clear-selection").addEventListener("click", () => {
      model("capture_data").selected.indices = [];
      model("path_data").selected.indices = [];
      fse.state.session = -1;
      for (const tr of document.querySelectorAll("table.sessions tr.picked")) tr.classList.remove("picked");
    });
    renderColourKey();
    selectionChanged();
    timeChanged(model("time").value);
    fse.ready = true;
  }
  const wait = setInterval(() => {
    if (window.Bokeh && Bokeh.documents && Bokeh.documents.length && Bokeh.documents[0].get_model_by_name("capture_data")) {
      clearInterval(wait);
      init();
    }
  }, 50);
})();
