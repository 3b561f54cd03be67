// The explorer page: controls built from /api/schema, a run stepped through /api/step, panels drawn on canvases.
// The address's query is the page's state (the same keys as the form's fields, see igmm/explore/state.py).
(function () {
  "use strict";

  const { Axes, colourKey } = window.IgmmPlots;
  const $ = (id) => document.getElementById(id);
  const form = $("form");
  // Agents drawn as one line each in the ID panel; beyond this the panel shows how many agents hold each ID.
  const MAX_LINES = 100;
  // Steps taken per request while replaying to a shared address's t.
  const REPLAY_CHUNK = 200;

  const explorer = {
    schema: null,
    session: null,
    info: null,
    playing: false,
    busy: false,
    done: false,
    t: -1,
    ids: [], // ids[t]: Int32Array of every agent's ID
    sizes: [], // sizes[t]: Map ID -> size
    stability: [],
    silos: [],
    verdicts: [],
    polarized: [],
    frames: 0,
    rate: 0,
    rateWindow: [],
    lastFrame: null,
    transcript: null,
    generation: 0,
    queue: Promise.resolve(), // the step requests, one after the other
    starting: 0, // runs being started (a start replays to its step first)
    pending: false, // a control changed and the run restarts after the debounce
    resume: false, // play again once the pending restart has started (see restart)
    playToken: 0,
    timing: { request: 0, draw: 0 }, // moving averages (ms) of a step request and of drawing its frames
  };
  window.explorer = explorer;

  const panels = {
    ids: new Axes($("ids"), "step t", "ID"),
    sizes: new Axes($("sizes"), "step t", "agents in silo"),
    stab: new Axes($("stab"), "step t", "stability"),
    xy: new Axes($("xy"), "CMDS axis 1", "CMDS axis 2"),
    graph: new Axes($("graph"), "", ""),
    llmIds: new Axes($("llm-ids"), "step t", "ID"),
    llmSizes: new Axes($("llm-sizes"), "step t", "agents in silo"),
  };

  // ---- controls -------------------------------------------------------------------------------

  function fillSelect(select, names, blank) {
    select.innerHTML = "";
    if (blank) select.add(new Option(blank, ""));
    for (const name of names) select.add(new Option(name, name));
  }

  function optionFields(container, prefix, choice) {
    container.innerHTML = "";
    if (!choice) return;
    for (const option of choice.options) {
      const label = document.createElement("label");
      label.className = "row";
      label.textContent = option.name + (option.required ? " *" : "");
      const input = document.createElement("input");
      input.type = "text";
      input.name = prefix + option.name;
      input.placeholder = option.default || (option.required ? "required" : "");
      input.title = option.type;
      label.appendChild(input);
      container.appendChild(label);
    }
  }

  function choice(kind, name) {
    if (kind === "dynamics") return { name, options: explorer.schema.dynamics_options[name] || [] };
    return explorer.schema[kind].find((c) => c.name === name);
  }

  function buildControls(schema) {
    fillSelect(form.elements.geometry, schema.geometry);
    fillSelect(form.elements.dynamics, schema.dynamics);
    fillSelect(form.elements.rag_policy, schema.rag_policy);
    fillSelect(form.elements.backend, schema.backend);
    fillSelect(form.elements.network, schema.network.map((c) => c.name), "dynamic k-nearest graph");
    fillSelect(form.elements.initial, schema.initial.map((c) => c.name));
    const box = $("modifiers");
    for (const modifier of schema.modifiers) {
      const label = document.createElement("label");
      label.className = "row";
      const check = document.createElement("input");
      check.type = "checkbox";
      check.name = "mod:" + modifier.name;
      check.dataset.modifier = modifier.name;
      label.append(modifier.name, check);
      box.appendChild(label);
      const options = document.createElement("div");
      options.className = "options";
      optionFields(options, "mod." + modifier.name + ".", modifier);
      box.appendChild(options);
    }
    $("transcript").value = schema.transcripts || "";
  }

  // The form's state as query pairs: only non-empty values, options only of what is chosen.
  function stateQuery() {
    const params = new URLSearchParams();
    const chosenNetwork = form.elements.network.value;
    const chosenInitial = form.elements.initial.value;
    const mods = [];
    for (const element of form.elements) {
      if (!element.name || element.type === "fieldset") continue;
      if (element.type === "checkbox") {
        if (element.checked && element.dataset.modifier) mods.push(element.dataset.modifier);
        continue;
      }
      const name = element.name;
      if (name.startsWith("network.") && !chosenNetwork) continue;
      if (name.startsWith("initial.") && !chosenInitial) continue;
      if (name.startsWith("mod.")) {
        const kind = name.split(".")[1];
        const check = form.querySelector(`input[data-modifier="${kind}"]`);
        if (!check || !check.checked) continue;
      }
      if (element.value.trim() !== "" || name === "network") params.set(name, element.value.trim());
    }
    if (!chosenNetwork) params.delete("network");
    if (mods.length) params.set("mods", mods.join(","));
    return params;
  }

  function viewQuery() {
    const params = stateQuery();
    params.set("t", String(Math.max(explorer.t, 0)));
    const run = $("transcript-run").value;
    if (run) {
      params.set("transcript", $("transcript").value.trim());
      params.set("run", run);
    }
    return params;
  }

  function applyQuery(params) {
    const defaults = explorer.schema.defaults;
    for (const [key, value] of Object.entries(defaults)) {
      if (form.elements[key] && !params.has(key)) form.elements[key].value = value;
    }
    if (params.has("network")) form.elements.network.value = params.get("network");
    if (params.has("initial")) form.elements.initial.value = params.get("initial");
    if (params.has("dynamics")) form.elements.dynamics.value = params.get("dynamics");
    optionFields($("dynamics-options"), "dynamics.", choice("dynamics", form.elements.dynamics.value));
    optionFields($("network-options"), "network.", choice("network", form.elements.network.value));
    optionFields($("initial-options"), "initial.", choice("initial", form.elements.initial.value));
    const mods = (params.get("mods") || "").split(",").filter(Boolean);
    for (const check of form.querySelectorAll("input[data-modifier]")) check.checked = mods.includes(check.dataset.modifier);
    // n first: it sets the k slider's range, which would otherwise clamp a k above the default n - 1.
    if (params.has("n")) form.elements.n.value = params.get("n");
    syncRanges();
    if (!params.has("k")) form.elements.k.value = String(parseInt(form.elements.n.value, 10) - 1);
    for (const [key, value] of params) {
      const element = form.elements[key];
      if (element && element.type !== "checkbox") element.value = value;
    }
    syncRanges();
  }

  function syncRanges() {
    const n = parseInt(form.elements.n.value, 10);
    if (n > 1) form.elements.k.max = String(n - 1);
    for (const output of form.querySelectorAll("output[data-for]")) {
      output.value = form.elements[output.dataset.for].value;
    }
  }

  function writeAddress() {
    const query = viewQuery().toString();
    history.replaceState(null, "", "?" + query);
    $("export-yaml").href = "api/config.yaml?" + stateQuery().toString();
  }

  function showErrors(lines) {
    $("errors").textContent = lines && lines.length ? lines.join("\n") : "";
  }

  // ---- the run --------------------------------------------------------------------------------

  async function getJSON(url) {
    const response = await fetch(url);
    const body = await response.json();
    if (!response.ok) throw Object.assign(new Error("request failed"), { lines: body.errors || [String(response.status)] });
    return body;
  }

  async function start(targetT) {
    const generation = ++explorer.generation;
    explorer.starting += 1;
    try {
      let body;
      try {
        body = await getJSON("api/start?" + stateQuery().toString());
      } catch (error) {
        if (generation === explorer.generation) {
          showErrors(error.lines || [String(error)]);
          explorer.session = null;
        }
        return false;
      }
      if (generation !== explorer.generation) return false;
      showErrors([]);
      Object.assign(explorer, {
        session: body.session, info: body.info, done: false, t: -1, ids: [], sizes: [], stability: [], silos: [],
        verdicts: [], polarized: [], lastFrame: null,
      });
      $("export-steps").href = `api/tables/${body.session}/steps.csv`;
      $("export-runs").href = `api/tables/${body.session}/runs.csv`;
      $("export-ids").href = `api/tables/${body.session}/ids.csv`;
      $("T-shown").textContent = body.info.n_steps;
      resetPanels();
      await advance(1);
      while (targetT > explorer.t && !explorer.done && generation === explorer.generation) {
        await advance(Math.min(REPLAY_CHUNK, targetT - explorer.t), true);
      }
      if (generation === explorer.generation) {
        redrawAll();
        writeAddress();
      }
      return generation === explorer.generation;
    } finally {
      explorer.starting -= 1;
    }
  }

  // Steps are asked for one request at a time, in order (a queue), so frames can never arrive out of order;
  // a request queued for a run that has since been replaced is dropped.
  function advance(count, quiet) {
    const generation = explorer.generation;
    const task = explorer.queue.then(() => (generation === explorer.generation ? takeSteps(count, quiet) : undefined));
    explorer.queue = task.catch(() => {});
    return task;
  }

  async function takeSteps(count, quiet) {
    if (!explorer.session || explorer.done) return;
    const generation = explorer.generation;
    explorer.busy = true;
    try {
      const asked = performance.now();
      const body = await getJSON(`api/step?session=${explorer.session}&count=${count}`);
      if (generation !== explorer.generation) return;
      const received = performance.now();
      for (const frame of body.frames) record(frame, !quiet);
      explorer.done = body.done;
      if (body.frames.length) drawLatest(body.frames[body.frames.length - 1]);
      const timing = explorer.timing;
      timing.request = 0.8 * timing.request + 0.2 * (received - asked);
      timing.draw = 0.8 * timing.draw + 0.2 * (performance.now() - received);
    } catch (error) {
      showErrors(error.lines || [String(error)]);
      explorer.playing = false;
    } finally {
      explorer.busy = false;
    }
  }

  function record(frame, draw) {
    const n = explorer.info.n_agents;
    const previous = explorer.ids.length ? explorer.ids[explorer.ids.length - 1] : new Int32Array(n);
    const ids = previous.slice();
    for (let i = 0; i < frame.moved.length; i++) ids[frame.moved[i]] = frame.to[i];
    explorer.ids.push(ids);
    const sizes = new Map();
    frame.sizes[0].forEach((id, i) => sizes.set(id, frame.sizes[1][i]));
    explorer.sizes.push(sizes);
    explorer.stability.push(frame.stability);
    explorer.silos.push(frame.silos);
    explorer.verdicts.push(frame.verdict);
    explorer.polarized.push(frame.polarized);
    explorer.t = frame.t;
    if (draw) drawStep(frame.t);
    countFrame();
  }

  function countFrame() {
    const now = performance.now();
    explorer.frames += 1;
    explorer.rateWindow.push(now);
    while (explorer.rateWindow.length && now - explorer.rateWindow[0] > 2000) explorer.rateWindow.shift();
    const span = (now - explorer.rateWindow[0]) / 1000;
    explorer.rate = explorer.rateWindow.length > 1 && span > 0 ? (explorer.rateWindow.length - 1) / span : 0;
  }

  // One play loop at a time: a loop whose token is old stops (a restart while playing starts a new one).
  async function play() {
    if (explorer.playing) return;
    explorer.playing = true;
    explorer.rateWindow = [];
    const token = ++explorer.playToken;
    const current = () => explorer.playing && token === explorer.playToken;
    while (current() && !explorer.done) {
      const began = performance.now();
      if (!explorer.busy && !explorer.starting && !explorer.pending) await advance(1);
      const speed = parseFloat($("speed").value);
      const wait = speed > 0 ? 1000 / speed - (performance.now() - began) : 0;
      await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 0)));
    }
    if (token === explorer.playToken) {
      explorer.playing = false;
      writeAddress();
    }
  }

  // ---- drawing --------------------------------------------------------------------------------

  function lines() {
    return explorer.info.n_agents <= MAX_LINES;
  }

  // Each agent's fixed vertical offset in the ID panel, so agents that share an ID stay visible.
  function jitter(n) {
    const offsets = new Float32Array(n);
    for (let i = 0; i < n; i++) offsets[i] = ((i * 0.6180339887) % 1 - 0.5) * 0.3;
    return offsets;
  }

  function resetPanels() {
    const info = explorer.info;
    const K = info.n_labels;
    const idTicks = IgmmPlots.niceTicks(0, K - 1, 5).filter((v) => Number.isInteger(v));
    panels.ids.reset([0, info.n_steps], [-0.5, K - 0.5], { yticks: idTicks, integerX: true });
    panels.sizes.reset([0, info.n_steps], [0, info.n_agents], { integerX: true });
    panels.stab.reset([0, info.n_steps], [0, 1], { integerX: true });
    explorer.offsets = jitter(info.n_agents);
    colourKey($("ids-key"), info.palette, "colour: silo (component ID), the same in every panel");
    $("ids-hint").textContent = lines() ? "(one line per agent)" : `(share of the ${info.n_agents} agents holding each ID)`;
    $("xy-hint").textContent = info.shown.length < info.n_agents ? `(${info.shown.length} of ${info.n_agents} agents)` : "";
    explorer.xyExtent = 1e-9;
  }

  function redrawAll() {
    if (!explorer.info) return;
    resetPanels();
    for (let t = 0; t <= explorer.t; t++) drawStep(t);
    if (explorer.lastFrame) drawLatest(explorer.lastFrame);
    drawTranscript();
  }

  function byColour(palette) {
    const groups = new Map();
    return {
      add(id, coords) {
        const colour = palette[id];
        if (!groups.has(colour)) groups.set(colour, []);
        groups.get(colour).push(...coords);
      },
      groups,
    };
  }

  // One segment per agent from step t - 1 to t in an ID panel, coloured by its ID at t.
  function drawIdLines(panel, before, now, offsets, palette, t) {
    const groups = byColour(palette);
    for (let i = 0; i < now.length; i++) {
      const o = offsets[i];
      groups.add(now[i], [t - 1, before[i] + o, t, now[i] + o]);
    }
    for (const [colour, coords] of groups.groups) panel.segments(coords, colour, 1, 0.85);
  }

  // One segment per silo from step t - 1 to t in a silo-size panel (sizes: Map of ID -> agents).
  function drawSizeLines(panel, before, now, palette, t) {
    const groups = byColour(palette);
    for (const id of new Set([...before.keys(), ...now.keys()])) {
      groups.add(id, [t - 1, before.get(id) || 0, t, now.get(id) || 0]);
    }
    for (const [colour, coords] of groups.groups) panel.segments(coords, colour, 1.4, 0.9);
  }

  // The strokes of step t in the time panels (t = 0 draws the starting column).
  function drawStep(t) {
    const info = explorer.info;
    const ids = explorer.ids[t];
    if (!ids) return;
    const palette = info.palette;
    if (lines() && t > 0) {
      drawIdLines(panels.ids, explorer.ids[t - 1], ids, explorer.offsets, palette, t);
    } else if (!lines()) {
      for (const [id, size] of explorer.sizes[t]) {
        panels.ids.cell(t - 0.5, 1, id - 0.5, id + 0.5, palette[id], 0.25 + 0.75 * Math.sqrt(size / info.n_agents));
      }
    }
    if (t > 0) {
      drawSizeLines(panels.sizes, explorer.sizes[t - 1], explorer.sizes[t], palette, t);
      // Stab(t) exists from t = 1 on, so the line starts there.
      if (t >= 2) panels.stab.segments([t - 1, explorer.stability[t - 1], t, explorer.stability[t]], "#1f77b4", 1.3);
    }
    drawTranscriptStep(t);
    $("t").textContent = t;
    $("silos").textContent = explorer.silos[t];
    $("stability").textContent = explorer.stability[t] === null ? "-" : explorer.stability[t].toFixed(3);
    $("polarized").textContent = explorer.polarized[t] ? "yes" : "no";
    $("verdict").textContent = explorer.verdicts[t] || "-";
    $("rate").textContent = explorer.rate.toFixed(1);
  }

  // Perspective space and the partner graph: redrawn from the latest frame that carries them.
  function drawLatest(frame) {
    if (frame.xy === undefined && frame.edges === undefined) return;
    explorer.lastFrame = frame;
    const info = explorer.info;
    const ids = explorer.ids[frame.t];
    if (frame.xy) {
      let extent = 0;
      for (const [x, y] of frame.xy) extent = Math.max(extent, Math.abs(x), Math.abs(y));
      // The scale only grows, so a population that collapses to one opinion is seen to collapse.
      explorer.xyExtent = Math.max(explorer.xyExtent, extent * 1.1);
      const e = explorer.xyExtent;
      panels.xy.reset([-e, e], [-e, e], { equal: true });
      // Agents at one point (the same opinion) are drawn once, larger with their number (area ~ count).
      const groups = new Map();
      frame.xy.forEach(([x, y], index) => {
        const key = `${x},${y},${ids[info.shown[index]]}`;
        const group = groups.get(key) || { point: [x, y], colour: info.palette[ids[info.shown[index]]], count: 0 };
        group.count += 1;
        groups.set(key, group);
      });
      const base = info.shown.length > 60 ? 2.5 : 4;
      for (const group of [...groups.values()].sort((a, b) => b.count - a.count)) {
        panels.xy.dots([group.point], [group.colour], base * Math.sqrt(group.count));
      }
      panels.xy.text(`t = ${frame.t}`);
    }
    if (frame.edges !== undefined) drawGraph(frame, ids);
  }

  function drawGraph(frame, ids) {
    const info = explorer.info;
    const n = info.n_agents;
    panels.graph.reset([-1.1, 1.1], [-1.1, 1.1], { bare: true, equal: true });
    // Agents on a circle in order of their ID, so a silo is an arc and its internal links are short chords.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ids[a] - ids[b] || a - b);
    const position = new Array(n);
    order.forEach((agent, index) => {
      const angle = (2 * Math.PI * index) / n;
      position[agent] = [Math.cos(angle), Math.sin(angle)];
    });
    if (frame.edges === "complete") {
      $("graph-hint").textContent = "(complete graph: every agent may hear every other)";
    } else {
      const coords = [];
      for (const [i, j] of frame.edges) coords.push(position[i][0], position[i][1], position[j][0], position[j][1]);
      panels.graph.segments(coords, "#555", 0.6, n > 100 ? 0.25 : 0.45);
      $("graph-hint").textContent = `(${frame.edges.length} links shown)`;
    }
    const colours = position.map((_, agent) => info.palette[ids[agent]]);
    panels.graph.dots(position, colours, n > 100 ? 1.8 : 4);
  }

  // ---- the language-model run beside the GMM -------------------------------------------------------

  function drawTranscript() {
    const run = explorer.transcript;
    $("llm-ids-figure").hidden = $("llm-sizes-figure").hidden = !run;
    document.body.classList.toggle("with-llm", Boolean(run));
    if (!run) return;
    $("llm-label").textContent = `${run.label} (p = ${run.p}, k = ${run.k}, ${run.n_agents} agents)`;
    panels.llmIds.reset([0, run.n_steps], [-0.5, run.n_labels - 0.5], { integerX: true });
    panels.llmSizes.reset([0, run.n_steps], [0, run.n_agents], { integerX: true });
    run.offsets = jitter(run.n_agents);
    for (let t = 0; t <= Math.min(explorer.t, run.n_steps); t++) drawTranscriptStep(t);
  }

  function sizesOf(row) {
    const sizes = new Map();
    for (const id of row) sizes.set(id, (sizes.get(id) || 0) + 1);
    return sizes;
  }

  function drawTranscriptStep(t) {
    const run = explorer.transcript;
    if (!run || t > run.n_steps || t < 1 || !run.offsets) return;
    const before = run.ids[t - 1], now = run.ids[t];
    drawIdLines(panels.llmIds, before, now, run.offsets, run.palette, t);
    const b = sizesOf(now);
    drawSizeLines(panels.llmSizes, sizesOf(before), b, run.palette, t);
    const largest = [...b.entries()].sort((x, y) => y[1] - x[1]).slice(0, 3)
      .map(([id, size]) => `${run.names[id] || id}: ${size}`).join(", ");
    $("llm-verdict").textContent = `${run.verdicts[t] || "-"} (t = ${t}; ${largest})`;
  }

  async function loadTranscripts() {
    const source = $("transcript").value.trim();
    try {
      const body = await getJSON("api/transcript?source=" + encodeURIComponent(source));
      const select = $("transcript-run");
      fillSelect(select, [], "(none)");
      for (const run of body.runs) select.add(new Option(`${run.label} (T = ${run.n_steps})`, run.label));
      $("transcript-note").textContent = `${body.runs.length} runs` + (body.problems ? `, ${body.problems} problems skipped` : "");
      showErrors([]);
      return body;
    } catch (error) {
      showErrors(error.lines || [String(error)]);
      return null;
    }
  }

  // Show a transcript run and set the GMM to the same p, k, n and T.
  async function chooseTranscript(label, keepControls) {
    if (!label) {
      explorer.transcript = null;
      drawTranscript();
      writeAddress();
      return;
    }
    try {
      const source = encodeURIComponent($("transcript").value.trim());
      explorer.transcript = await getJSON(`api/transcript?source=${source}&run=${encodeURIComponent(label)}`);
    } catch (error) {
      showErrors(error.lines || [String(error)]);
      return;
    }
    if (!keepControls) {
      const gmm = explorer.transcript.gmm;
      form.elements.n.value = gmm.n;
      form.elements.K.value = "";
      syncRanges();
      form.elements.p.value = gmm.p;
      form.elements.k.value = gmm.k;
      form.elements.T.value = gmm.T;
      syncRanges();
      await restart();
    } else {
      drawTranscript();
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  let debounce = null;
  // A restart that begins while an earlier one is still starting finds playing already false, so the
  // intent to play is kept in explorer.resume until a restart completes (pause, step and reset drop it).
  async function restart() {
    explorer.resume = explorer.resume || explorer.playing;
    explorer.playing = false;
    const ok = await start(0);
    drawTranscript();
    if (ok && explorer.resume) {
      explorer.resume = false;
      play();
    }
  }

  function stopPlaying() {
    explorer.playing = false;
    explorer.resume = false;
  }

  function onControl(event) {
    if (["dynamics", "network", "initial"].includes(event.target.name)) {
      const kind = event.target.name;
      optionFields($(kind + "-options"), kind + ".", choice(kind, event.target.value));
    }
    syncRanges();
    clearTimeout(debounce);
    explorer.pending = true;
    debounce = setTimeout(() => {
      explorer.pending = false;
      restart();
    }, event.type === "input" ? 250 : 0);
  }

  async function main() {
    explorer.schema = await getJSON("api/schema");
    buildControls(explorer.schema);
    const params = new URLSearchParams(location.search);
    applyQuery(params);
    if (params.get("transcript")) $("transcript").value = params.get("transcript");
    form.addEventListener("input", (event) => { if (event.target.type === "range") onControl(event); });
    form.addEventListener("change", onControl);
    $("play").addEventListener("click", play);
    $("pause").addEventListener("click", () => { stopPlaying(); writeAddress(); });
    $("step").addEventListener("click", async () => { stopPlaying(); await advance(1); writeAddress(); });
    $("reset").addEventListener("click", () => { stopPlaying(); start(0); });
    $("load-transcript").addEventListener("click", loadTranscripts);
    $("transcript-run").addEventListener("change", (event) => chooseTranscript(event.target.value, false));
    $("copy-link").addEventListener("click", () => {
      writeAddress();
      if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(() => {});
    });
    let resizing = null;
    window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(redrawAll, 150); });
    if (params.get("run")) {
      await loadTranscripts();
      $("transcript-run").value = params.get("run");
      await chooseTranscript(params.get("run"), true);
    }
    await start(parseInt(params.get("t") || "0", 10) || 0);
    drawTranscript();
    document.body.dataset.ready = "1";
  }

  main().catch((error) => showErrors([String(error)]));
})();
