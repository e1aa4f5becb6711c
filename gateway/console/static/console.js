// The console's one script: it calls the gateway's OpenAI API like any client, authenticated
// by the session cookie plus the page's CSRF token (never the cookie alone), and builds the
// DOM with textContent only: nothing from an answer is ever parsed as HTML.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const csrf = csrfMeta ? csrfMeta.content : "";

function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("X-CSRF-Token", csrf);
  // No fetch cache mode: "no-store" sends Cache-Control: no-cache, which the gateway reads as "skip the cache".
  return fetch(path, { ...options, headers, credentials: "same-origin" });
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function mimeOf(b64) {
  if (b64.startsWith("/9j/")) return "image/jpeg";
  if (b64.startsWith("UklGR")) return "image/webp";
  return "image/png";
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return `${response.status}: ${body.error.message}`;
  } catch (_) {
    // not JSON: say the status only
  }
  return `HTTP ${response.status}`;
}

function imagesOf(answer, model, prompt) {
  const alt = `${model}: ${prompt.slice(0, 80)}`;
  return (answer.data || []).map((item, index) => {
    const src = item.b64_json ? `data:${mimeOf(item.b64_json)};base64,${item.b64_json}` : item.url;
    const img = el("img", { alt: `${alt} (image ${index + 1})`, src, "data-reported-size": answer.size || "" });
    img.className = "result";
    return img;
  });
}

// ---- playground ----

function fact(list, name, value, id) {
  list.append(el("dt", {}, name));
  const dd = el("dd", {}, value);
  if (id) dd.dataset.fact = id;
  list.append(dd);
}

function column(model) {
  const section = el("section", { class: "column", "data-model": model, "aria-busy": "true" });
  section.append(el("h3", {}, model));
  const state = el("p", { class: "note", role: "status" }, "Generating…");
  section.append(state);
  return { section, state };
}

function showAnswer(col, model, prompt, answer, headers, latency) {
  col.state.remove();
  const facts = el("dl", { class: "facts" });
  const cache = headers.get("x-gateway-cache") || "none";
  const fallbacks = Number(headers.get("x-gateway-fallbacks") || "0");
  fact(facts, "Provider", headers.get("x-gateway-provider") || "-", "provider");
  fact(facts, "Model", headers.get("x-gateway-model") || model, "model");
  fact(facts, "Size", headers.get("x-gateway-size") || answer.size || "-", "size");
  // No size sent: the model made its own default size.
  fact(facts, "Sent upstream", headers.get("x-gateway-size-sent") || "no size (model default)", "size-sent");
  fact(facts, "Latency", `${Math.round(latency)} ms`, "latency");
  fact(facts, "Cache", cache, "cache");
  fact(facts, "Fallbacks", String(fallbacks), "fallbacks");
  col.section.append(facts);
  const badges = el("p", { class: "badges" });
  if (cache === "hit") badges.append(el("span", { class: "badge badge-cache" }, "cache hit"));
  if (cache === "shared") badges.append(el("span", { class: "badge badge-cache" }, "shared with an identical request"));
  if (fallbacks > 0) badges.append(el("span", { class: "badge badge-fallback" }, `fallback (${fallbacks})`));
  if (badges.childElementCount) col.section.append(badges);
  const gallery = el("div", { class: "gallery" });
  gallery.append(...imagesOf(answer, headers.get("x-gateway-model") || model, prompt));
  col.section.append(gallery);
  col.section.setAttribute("aria-busy", "false");
}

function showError(col, text) {
  col.state.remove();
  col.section.append(el("p", { class: "error", role: "alert" }, text));
  col.section.setAttribute("aria-busy", "false");
}

function requestFor(model, fields, files) {
  const extras = {};
  if (fields.negative) extras.negative_prompt = fields.negative;
  if (fields.seed !== "") extras.seed = Number(fields.seed);
  const headers = fields.async ? { Prefer: "respond-async" } : {};
  if (files.length) {
    const form = new FormData();
    form.append("model", model);
    form.append("prompt", fields.prompt);
    form.append("n", String(fields.n));
    form.append("response_format", "b64_json");
    if (fields.size) form.append("size", fields.size);
    for (const [name, value] of Object.entries(extras)) form.append(name, String(value));
    for (const file of files) form.append("image[]", file, file.name);
    return ["/v1/images/edits", { method: "POST", body: form, headers }];
  }
  const body = { model, prompt: fields.prompt, n: fields.n, response_format: "b64_json", ...extras };
  if (fields.size) body.size = fields.size;
  headers["Content-Type"] = "application/json";
  return ["/v1/images/generations", { method: "POST", body: JSON.stringify(body), headers }];
}

async function waitForJob(job, col) {
  col.state.textContent = `Job ${job.id}: running (also listed on the Jobs page)…`;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const response = await api(`/v1/images/jobs/${encodeURIComponent(job.id)}`);
    if (!response.ok) return { response };
    const answer = await response.json();
    if (answer.status !== "running") return { response, answer };
  }
}

async function generateOne(model, fields, files, results) {
  const col = column(model);
  results.append(col.section);
  const started = performance.now();
  try {
    let [path, options] = requestFor(model, fields, files);
    let response = await api(path, options);
    let answer = response.ok ? await response.json() : null;
    if (response.status === 202 && answer) {
      ({ response, answer } = await waitForJob(answer, col));
    }
    if (!response.ok) return showError(col, await errorText(response));
    if (answer.status === "failed" && answer.error) return showError(col, answer.error.message);
    showAnswer(col, model, fields.prompt, answer, response.headers, performance.now() - started);
  } catch (err) {
    showError(col, `The request failed: ${err}`);
  }
}

async function loadModels(box) {
  const status = box.querySelector("#models-status");
  const response = await api("/v1/models");
  if (!response.ok) {
    status.textContent = await errorText(response);
    return;
  }
  const list = await response.json();
  const images = list.data.filter((m) => m.capabilities && m.capabilities.type === "image");
  const list_ = el("div", { class: "model-list" });
  box.append(list_);
  images.forEach((m, index) => {
    const caps = m.capabilities;
    const id = `model-${index}`;
    const wrap = el("div", { class: "model" });
    const box_ = el("input", { type: "checkbox", id, name: "model", value: m.id });
    if (index === 0) box_.checked = true;
    const what = [caps.generations ? "generations" : null, caps.edits ? "edits" : null].filter(Boolean).join(", ");
    const label = el("label", { for: id }, m.id);
    const inputs = caps.max_input_images ? `up to ${caps.max_input_images} input images` : "no input images";
    label.append(el("span", { class: "caps" }, ` ${what}; n ≤ ${caps.max_n}; ${inputs}`));
    wrap.append(box_, label);
    list_.append(wrap);
  });
  status.textContent = images.length ? "" : "No image models are available to this key.";
  if (!images.length) return;
  status.remove();
}

function setupDrop(zone, input, picked) {
  const list = () => {
    picked.replaceChildren(...Array.from(input.files).map((f) => el("li", {}, `${f.name} (${Math.round(f.size / 1024)} KiB)`)));
  };
  input.addEventListener("change", list);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      list();
    }
  });
}

function playground() {
  const form = document.getElementById("generate");
  if (!form) return;
  const results = document.getElementById("results");
  const status = document.getElementById("form-status");
  const files = document.getElementById("images");
  setupDrop(document.getElementById("drop"), files, document.getElementById("picked"));
  loadModels(document.getElementById("models"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const models = Array.from(form.querySelectorAll('input[name="model"]:checked')).map((b) => b.value);
    const fields = {
      prompt: form.prompt.value.trim(),
      n: Number(form.n.value || "1"),
      size: form.size.value,
      seed: form.seed.value.trim(),
      negative: form.negative_prompt.value.trim(),
      async: form.async.checked,
    };
    if (!fields.prompt) return void (status.textContent = "Write a prompt first.");
    if (!models.length) return void (status.textContent = "Pick at least one model.");
    status.textContent = `Generating with ${models.length} model(s)…`;
    results.replaceChildren();
    const button = document.getElementById("go");
    button.disabled = true;
    try {
      await Promise.all(models.map((m) => generateOne(m, fields, Array.from(files.files), results)));
      status.textContent = "Done.";
    } finally {
      button.disabled = false;
    }
  });
}

// ---- jobs ----

async function jobThumbs() {
  for (const row of document.querySelectorAll('tr.job[data-status="succeeded"]')) {
    const cell = row.querySelector(".thumbs");
    const response = await api(`/v1/images/jobs/${encodeURIComponent(row.dataset.job)}`);
    if (!response.ok) {
      cell.textContent = await errorText(response);
      continue;
    }
    const answer = await response.json();
    const model = row.children[1].textContent;
    cell.replaceChildren(...imagesOf(answer, model, `job ${answer.id}`));
    for (const img of cell.querySelectorAll("img")) img.classList.add("thumb");
  }
}

playground();
if (document.body.dataset.page === "jobs") jobThumbs();
