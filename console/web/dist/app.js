// src/api.ts
var ApiError = class extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
  status;
  code;
  field;
};
var csrfToken = "";
async function parse(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body?.error;
    throw new ApiError(res.status, e?.code ?? "UNKNOWN", e?.message ?? `HTTP ${res.status}`, e?.field ?? "");
  }
  return body;
}
async function getSession() {
  const res = await fetch("/api/session", { credentials: "same-origin", cache: "no-store" });
  const s = await parse(res);
  csrfToken = s.csrf_token;
  return s;
}
async function getCatalog() {
  const res = await fetch("/api/scopes", { credentials: "same-origin", cache: "no-store" });
  return await parse(res);
}
async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-Pat-Csrf": csrfToken },
    body: JSON.stringify(body)
  });
  return parse(res);
}
function rpc(method, request) {
  return post(`/api/v1/TokenService/${method}`, request);
}
function validateLink(kind, planId, link) {
  return post("/api/links:validate", { kind, plan_id: planId, link });
}
function requestId() {
  return crypto.randomUUID();
}

// src/dom.ts
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0 || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = String(value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, ...children);
  return el;
}
function append(el, ...children) {
  for (const c of children) {
    if (c === null || c === void 0 || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
}
function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}
var idCounter = 0;
function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
function formatTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return "";
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}
function formatDate(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return "";
  return d.toISOString().slice(0, 10);
}

// src/modal.ts
function openModal(titleText, onClose) {
  const opener = document.activeElement;
  const titleId = uid("modal-title");
  const title = h("h2", { id: titleId, class: "modal-title" }, titleText);
  const body = h("div", { class: "modal-body", tabindex: 0 });
  const footer = h("div", { class: "modal-footer" });
  const closeButton = h("button", { type: "button", class: "icon-button modal-close", "aria-label": "Close" }, "×");
  const dialog = h(
    "dialog",
    { class: "modal", "aria-labelledby": titleId },
    h("div", { class: "modal-header" }, title, closeButton),
    body,
    footer
  );
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    clear(dialog);
    dialog.remove();
    onClose?.();
    if (opener && document.contains(opener)) opener.focus();
  };
  closeButton.addEventListener("click", close);
  dialog.addEventListener("close", close);
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault();
    close();
  });
  dialog.addEventListener("keydown", (e) => trapTab(dialog, e));
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, title, body, footer, close };
}
var FOCUSABLE = "button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex='-1'])";
function trapTab(dialog, e) {
  if (e.key !== "Tab") return;
  const items = Array.from(dialog.querySelectorAll(FOCUSABLE)).filter(
    (el) => !el.closest("[hidden]") && el.getClientRects().length > 0
  );
  if (items.length === 0) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
function focusFirst(root2) {
  const el = root2.querySelector(
    "input:not([disabled]), textarea:not([disabled]), select:not([disabled]), button:not([disabled])"
  );
  el?.focus();
}

// src/token_form.ts
function splitLinks(text) {
  return text.split(/[\n,]+/).map((s) => s.trim()).filter((s) => s.length > 0);
}
var TokenForm = class {
  constructor(kind, planId, catalog, initial) {
    this.kind = kind;
    this.planId = planId;
    this.catalog = catalog;
    this.name = h("input", { type: "text", maxlength: 128, autocomplete: "off", "data-testid": "token-name" });
    this.name.value = initial?.name ?? "";
    this.description = h("textarea", { rows: 3, maxlength: 1024, "data-testid": "token-description" });
    this.description.value = initial?.description ?? "";
    this.days = h("input", { type: "number", min: 1, max: catalog.max_expiration_days, step: 1, "data-testid": "token-days" });
    this.days.value = "90";
    const group = uid("resources");
    this.allResources = h("input", { type: "radio", name: group, value: "all", "data-testid": "resources-all" });
    this.selectedResources = h("input", { type: "radio", name: group, value: "selected", "data-testid": "resources-selected" });
    this.links = h("textarea", { rows: 5, spellcheck: "false", "data-testid": "token-links" });
    this.linkResults = h("ul", { class: "link-results", "aria-live": "polite", "data-testid": "link-results" });
    const allowed = kind === "TOKEN_KIND_REST_API" ? catalog.rest : catalog.npm;
    const held = new Set(initial?.scopes ?? []);
    for (const scope of allowed) {
      const box = h("input", { type: "checkbox", value: scope, "data-testid": `scope-${scope}` });
      box.checked = held.has(scope);
      this.scopeBoxes.push(box);
    }
    const all = initial ? initial.all_resources : true;
    this.allResources.checked = all;
    this.selectedResources.checked = !all;
    this.links.value = (initial?.resources ?? []).map((r) => r.link).join("\n");
    this.links.addEventListener("input", () => this.scheduleLinkCheck());
    this.allResources.addEventListener("change", () => this.syncResources());
    this.selectedResources.addEventListener("change", () => this.syncResources());
    this.syncResources();
    if (!all) this.scheduleLinkCheck();
  }
  kind;
  planId;
  catalog;
  name;
  description;
  days;
  scopeBoxes = [];
  allResources;
  selectedResources;
  links;
  linkResults;
  slots = /* @__PURE__ */ new Map();
  linkTimer;
  linkGeneration = 0;
  invalidLinks = 0;
  field(key, page, label, control, hint) {
    const id = uid("field");
    const errorId = `${id}-error`;
    control.id = id;
    const described = [errorId];
    let hintEl = null;
    if (hint) {
      hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
      described.push(`${id}-hint`);
    }
    control.setAttribute("aria-describedby", described.join(" "));
    const error = h("p", { class: "field-error", id: errorId, "data-testid": `error-${key}` });
    this.slots.set(key, { control, error, page });
    return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, error);
  }
  describeSection(withExpiration) {
    return h(
      "div",
      { class: "section" },
      this.field("name", "describe", "Name", this.name),
      this.field("description", "describe", "Description", this.description),
      withExpiration && this.field(
        "expires_in_days",
        "describe",
        "Expiration (days)",
        this.days,
        `Up to ${this.catalog.max_expiration_days} days.`
      )
    );
  }
  scopesSection() {
    const errorId = uid("scopes-error");
    const error = h("p", { class: "field-error", id: errorId, "data-testid": "error-scopes" });
    const list = h("div", { class: "scope-list" });
    for (const box of this.scopeBoxes) {
      box.id = uid("scope");
      list.append(h("div", { class: "checkbox" }, box, h("label", { for: box.id }, box.value)));
    }
    const fieldset = h(
      "fieldset",
      { class: "section", "aria-describedby": errorId },
      h("legend", {}, "Scopes"),
      list,
      error
    );
    this.slots.set("scopes", { control: fieldset, error, page: "scopes" });
    return fieldset;
  }
  resourcesSection() {
    const allId = uid("res");
    const selId = uid("res");
    this.allResources.id = allId;
    this.selectedResources.id = selId;
    const examples = this.kind === "TOKEN_KIND_REST_API" ? "One link per line: files, projects, teams or workspaces of this organization, e.g. https://figma.com/design/ABCDEFG123 or https://figma.com/files/ORG/project/123." : "One npm scope per line, e.g. @acme.";
    return h(
      "fieldset",
      { class: "section" },
      h("legend", {}, "Resources"),
      h(
        "div",
        { class: "radio" },
        this.allResources,
        h("label", { for: allId }, "All resources")
      ),
      h("p", { class: "hint" }, "Any resource in the organization; the scopes still limit what can be done."),
      h(
        "div",
        { class: "radio" },
        this.selectedResources,
        h("label", { for: selId }, "Only selected resources")
      ),
      this.field("resource_links", "resources", this.kind === "TOKEN_KIND_REST_API" ? "Resource links" : "npm scopes", this.links, examples),
      this.linkResults
    );
  }
  syncResources() {
    const selected = this.selectedResources.checked;
    this.links.disabled = !selected;
    if (!selected) {
      clear(this.linkResults);
      this.setError("resource_links", "");
    } else {
      this.scheduleLinkCheck();
    }
  }
  scheduleLinkCheck() {
    window.clearTimeout(this.linkTimer);
    this.linkTimer = window.setTimeout(() => void this.checkLinks(), 250);
  }
  // Checks every link; results replace the list unless a newer check began.
  async checkLinks() {
    const generation = ++this.linkGeneration;
    const links2 = splitLinks(this.links.value).slice(0, this.catalog.max_resource_links + 1);
    const results = await Promise.all(
      links2.map(
        (l) => validateLink(this.kind, this.planId, l).catch((e) => ({
          valid: false,
          message: e instanceof ApiError ? e.message : "could not check"
        }))
      )
    );
    if (generation !== this.linkGeneration) return;
    clear(this.linkResults);
    this.invalidLinks = 0;
    results.forEach((r, i) => {
      if (r.valid) {
        this.linkResults.append(h("li", { class: "link-ok" }, `✓ ${r.resource_kind} ${r.id}`));
      } else {
        this.invalidLinks += 1;
        this.linkResults.append(h("li", { class: "link-bad" }, `✗ link ${i + 1}: ${r.message}`));
      }
    });
    this.setError(
      "resource_links",
      this.invalidLinks > 0 ? `${this.invalidLinks} link(s) are not valid` : ""
    );
  }
  setError(key, message) {
    const base = key.replace(/\[\d+\]$/, "");
    const slot = this.slots.get(base);
    if (!slot) return null;
    slot.error.textContent = message;
    if (message) slot.control.setAttribute("aria-invalid", "true");
    else slot.control.removeAttribute("aria-invalid");
    return slot.page;
  }
  clearErrors() {
    for (const key of this.slots.keys()) this.setError(key, "");
  }
  // Client-side checks of one page (the authority checks again). Returns
  // true when the page is fine.
  checkPage(page) {
    let ok = true;
    const fail = (key, message) => {
      this.setError(key, message);
      ok = false;
    };
    if (page === "describe") {
      this.setError("name", "");
      this.setError("description", "");
      this.setError("expires_in_days", "");
      const name = this.name.value.trim();
      if (name.length === 0) fail("name", "Enter a name for the token.");
      else if (name.length > 128) fail("name", "At most 128 characters.");
      if (this.description.value.length > 1024) fail("description", "At most 1024 characters.");
      if (this.slots.has("expires_in_days")) {
        const d = Number(this.days.value);
        if (!Number.isInteger(d) || d < 1 || d > this.catalog.max_expiration_days) {
          fail("expires_in_days", `Choose between 1 and ${this.catalog.max_expiration_days} days.`);
        }
      }
    } else if (page === "scopes") {
      this.setError("scopes", "");
      if (!this.scopeBoxes.some((b) => b.checked)) fail("scopes", "Select at least one scope.");
    } else {
      if (this.selectedResources.checked) {
        const links2 = splitLinks(this.links.value);
        if (links2.length === 0) fail("resource_links", "Add at least one link, or choose All resources.");
        else if (links2.length > this.catalog.max_resource_links) {
          fail("resource_links", `At most ${this.catalog.max_resource_links} links.`);
        } else if (this.invalidLinks > 0) {
          fail("resource_links", `${this.invalidLinks} link(s) are not valid`);
        }
      }
    }
    return ok;
  }
  values() {
    const selected = this.selectedResources.checked;
    return {
      name: this.name.value.trim(),
      description: this.description.value,
      expires_in_days: Number(this.days.value),
      scopes: this.scopeBoxes.filter((b) => b.checked).map((b) => b.value),
      all_resources: !selected,
      resource_links: selected ? splitLinks(this.links.value) : []
    };
  }
  // Shows an authority error next to its field; false when it names none.
  showApiError(e) {
    if (!e.field) return null;
    return this.setError(e.field, e.message);
  }
};

// src/dialogs.ts
function kindLabel(kind) {
  return kind === "TOKEN_KIND_REST_API" ? "REST API" : "npm registry";
}
function generalError() {
  return h("p", { class: "form-error", role: "alert", "data-testid": "form-error" });
}
function showSecret(title, secret, note, onClose) {
  const m = openModal(title, onClose);
  const box = h("code", { class: "secret", "data-testid": "secret", tabindex: 0, "aria-label": "Token secret" }, secret);
  const status = h("span", { class: "copy-status", role: "status", "data-testid": "copy-status" });
  const copy = h("button", { type: "button", class: "primary", "data-testid": "copy-secret" }, "Copy");
  copy.addEventListener("click", () => {
    navigator.clipboard.writeText(box.textContent ?? "").then(
      () => status.textContent = "Copied to the clipboard.",
      () => status.textContent = "Copy failed: select the text and copy it."
    );
  });
  m.body.append(
    h(
      "p",
      { class: "warning", "data-testid": "secret-warning" },
      "Store this token in a secure location, such as a password vault or a secrets manager, now. This is the only time the secret is displayed: it will not be shown again."
    ),
    h("div", { class: "secret-row" }, box, copy),
    status
  );
  if (note) m.body.append(h("p", { class: "hint" }, note));
  const done = h("button", { type: "button", "data-testid": "secret-done" }, "Done");
  done.addEventListener("click", () => m.close());
  m.footer.append(done);
  copy.focus();
}
function openGenerate(kind, planId, catalog, onDone) {
  const form = new TokenForm(kind, planId, catalog);
  const m = openModal(`Generate ${kindLabel(kind)} plan access token`);
  m.dialog.setAttribute("data-testid", "generate-modal");
  const pages = {
    describe: { title: "Describe your token", el: form.describeSection(true) },
    scopes: { title: "Choose scopes", el: form.scopesSection() },
    resources: { title: "Choose resources", el: form.resourcesSection() }
  };
  const order = ["describe", "scopes", "resources"];
  const step = h("p", { class: "step", "aria-live": "polite", "data-testid": "modal-step" });
  const error = generalError();
  const back = h("button", { type: "button", "data-testid": "modal-back" }, "Back");
  const next = h("button", { type: "button", class: "primary", "data-testid": "modal-next" }, "Next");
  let current = "describe";
  const show = (page) => {
    current = page;
    const i = order.indexOf(page);
    for (const p of order) pages[p].el.hidden = p !== page;
    step.textContent = `Step ${i + 1} of 3: ${pages[page].title}`;
    back.hidden = i === 0;
    next.textContent = i === 2 ? "Create" : "Next";
    next.setAttribute("data-testid", i === 2 ? "modal-create" : "modal-next");
    focusFirst(pages[page].el);
  };
  back.addEventListener("click", () => show(order[order.indexOf(current) - 1]));
  next.addEventListener("click", async () => {
    error.textContent = "";
    if (!form.checkPage(current)) return;
    const i = order.indexOf(current);
    if (i < 2) return show(order[i + 1]);
    next.disabled = true;
    try {
      const v = form.values();
      const res = await rpc("CreateToken", {
        plan_id: planId,
        kind,
        ...v,
        request_id: requestId()
      });
      m.close();
      onDone();
      showSecret("Your new plan access token", res.secret, `Token ${res.token.id} (“${res.token.name}”).`, onDone);
    } catch (e) {
      const page = e instanceof ApiError ? form.showApiError(e) : null;
      if (page) show(page);
      else error.textContent = e instanceof Error ? e.message : String(e);
    } finally {
      next.disabled = false;
    }
  });
  m.body.append(step, pages.describe.el, pages.scopes.el, pages.resources.el, error);
  m.footer.append(back, next);
  show("describe");
}
function openEdit(token, catalog, onDone) {
  const form = new TokenForm(token.kind, token.plan_id, catalog, token);
  const m = openModal(`Edit token “${token.name}”`);
  m.dialog.setAttribute("data-testid", "edit-modal");
  const error = generalError();
  const save = h("button", { type: "button", class: "primary", "data-testid": "edit-save" }, "Save");
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", () => m.close());
  m.body.append(
    h("p", { class: "hint" }, `Token id ${token.id}. The secret cannot be shown again.`),
    form.describeSection(false),
    form.scopesSection(),
    form.resourcesSection(),
    error
  );
  m.footer.append(cancel, save);
  save.addEventListener("click", async () => {
    error.textContent = "";
    const ok = ["describe", "scopes", "resources"].map((p) => form.checkPage(p)).every(Boolean);
    if (!ok) return;
    const v = form.values();
    const paths = [];
    if (v.name !== token.name) paths.push("name");
    if (v.description !== token.description) paths.push("description");
    if (v.scopes.slice().sort().join(",") !== token.scopes.slice().sort().join(",")) paths.push("scopes");
    const oldLinks = token.resources.map((r) => r.link).join("\n");
    if (v.all_resources !== token.all_resources || !v.all_resources && v.resource_links.join("\n") !== oldLinks) {
      paths.push("resources");
    }
    if (paths.length === 0) return m.close();
    save.disabled = true;
    try {
      await rpc("UpdateToken", {
        plan_id: token.plan_id,
        token_id: token.id,
        update_mask: paths.join(","),
        name: v.name,
        description: v.description,
        scopes: v.scopes,
        all_resources: v.all_resources,
        resource_links: v.resource_links
      });
      m.close();
      onDone();
    } catch (e) {
      if (!(e instanceof ApiError && form.showApiError(e))) {
        error.textContent = e instanceof Error ? e.message : String(e);
      }
    } finally {
      save.disabled = false;
    }
  });
  focusFirst(m.body);
}
function confirmModal(title, testid, text, action, run) {
  const m = openModal(title);
  m.dialog.setAttribute("data-testid", testid);
  const error = generalError();
  for (const t of text) m.body.append(h("p", {}, t));
  m.body.append(error);
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", () => m.close());
  const go = h("button", { type: "button", class: "danger", "data-testid": `${testid}-confirm` }, action);
  go.addEventListener("click", async () => {
    go.disabled = true;
    error.textContent = "";
    try {
      await run(m, error);
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    } finally {
      go.disabled = false;
    }
  });
  m.footer.append(cancel, go);
  cancel.focus();
}
function openRefresh(token, onDone) {
  const newExpiry = new Date(Date.now() + token.lifetime_days * 86400 * 1e3).toISOString();
  confirmModal(
    `Refresh token “${token.name}”`,
    "refresh-modal",
    [
      `New expiration: ${formatDate(newExpiry)} (today plus the token's original lifetime of ${token.lifetime_days} days).`,
      "The previous secret continues to work for 24 hours."
    ],
    "Refresh token",
    async (m) => {
      const res = await rpc("RefreshToken", {
        plan_id: token.plan_id,
        token_id: token.id,
        request_id: requestId()
      });
      m.close();
      onDone();
      showSecret(
        "Your refreshed plan access token",
        res.secret,
        `Expires ${formatDate(res.token.expire_time)}. The previous secret works until ${formatTime(res.previous_secret_expire_time)}.`,
        onDone
      );
    }
  );
}
function openRevoke(token, onDone) {
  confirmModal(
    `Revoke token “${token.name}”`,
    "revoke-modal",
    [
      "The plan access token is immediately revoked. This action cannot be undone.",
      "To replace the plan access token, you'll need to create a new one with the same scopes and resource access."
    ],
    "Revoke token",
    async (m) => {
      await rpc("RevokeToken", { plan_id: token.plan_id, token_id: token.id });
      m.close();
      onDone();
    }
  );
}
function describeDetails(json) {
  if (!json) return "";
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}
async function openAudit(token) {
  const m = openModal(`Audit log of “${token.name}”`);
  m.dialog.setAttribute("data-testid", "audit-modal");
  const status = h("p", { role: "status" }, "Loading…");
  m.body.append(status);
  const close = h("button", { type: "button" }, "Close");
  close.addEventListener("click", () => m.close());
  m.footer.append(close);
  close.focus();
  try {
    const res = await rpc("ListAuditEvents", {
      plan_id: token.plan_id,
      token_id: token.id,
      page_size: 100
    });
    status.textContent = res.events.length === 0 ? "No events." : `${res.events.length} event(s).`;
    const rows = res.events.map(
      (ev) => h(
        "tr",
        { "data-testid": "audit-row" },
        h("td", {}, formatTime(ev.time)),
        h("td", {}, ev.actor),
        h("td", {}, ev.action),
        h("td", {}, h("pre", { class: "details" }, describeDetails(ev.details_json)))
      )
    );
    m.body.append(
      h(
        "table",
        { class: "audit" },
        h("caption", { class: "visually-hidden" }, "Audit events"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Before / after"))),
        h("tbody", {}, ...rows)
      )
    );
  } catch (e) {
    status.textContent = e instanceof Error ? e.message : String(e);
  }
}

// src/usage_panel.ts
function table(testid, caption, head, rows) {
  return h(
    "table",
    { class: "audit usage", "data-testid": testid },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c)))))
  );
}
function section(title, testid, ...children) {
  return h("section", { class: "usage-section", "data-testid": testid }, h("h3", {}, title), ...children);
}
function links(resources) {
  return resources.map((r) => r.link || `${r.kind}:${r.id}`).join("\n");
}
function suggestion(r) {
  const g = r.suggestion;
  if (!g || g.no_traffic) {
    return section(
      "Suggested token",
      "usage-suggestion",
      h("p", { "data-testid": "usage-no-traffic" }, "No traffic in the window: nothing to suggest. A token nobody uses can be revoked.")
    );
  }
  return section(
    "Suggested token",
    "usage-suggestion",
    h("p", {}, "A narrower token that would have allowed every request seen:"),
    h(
      "dl",
      {},
      h("dt", {}, "Scopes"),
      h("dd", { "data-testid": "usage-suggested-scopes" }, g.scopes.join(", ") || "none"),
      h("dt", {}, "Resources"),
      h("dd", { "data-testid": "usage-suggested-resources" }, g.all_resources ? "All resources" : links(g.resources) || "none")
    )
  );
}
function renderUsage(r) {
  const endpoints = r.endpoints.length === 0 ? h("p", { "data-testid": "usage-endpoints-empty" }, "No requests.") : table(
    "usage-endpoints",
    "Endpoints by count",
    ["Endpoint", "Requests", "Satisfied by"],
    r.endpoints.map((e) => [e.endpoint, String(e.count), e.satisfying_scopes.join(", ")])
  );
  const scopes = table(
    "usage-scopes",
    "Scopes used vs held",
    ["Scope", "Held", "Requests"],
    r.scopes.map((s) => [s.scope, s.held ? "held" : "not held", String(s.count)])
  );
  const touched = table(
    "usage-touched",
    "Resources touched",
    ["Resource", "Requests"],
    r.touched_resources.map((t) => [t.resource ? links([t.resource]) : "", String(t.count)])
  );
  const allowed = h(
    "dl",
    {},
    h("dt", {}, "Allowed"),
    h("dd", { "data-testid": "usage-allowed" }, r.all_resources ? "All resources" : links(r.allowed_resources) || "none"),
    h("dt", {}, "Allowed but unused"),
    h("dd", { "data-testid": "usage-unused" }, links(r.unused_resources) || "none"),
    h("dt", {}, "Requests needing all resources"),
    h("dd", { "data-testid": "usage-all-resources-requests" }, String(r.all_resources_requests))
  );
  return [
    h(
      "p",
      { "data-testid": "usage-summary" },
      `${r.total_requests} request(s) from ${formatTime(r.window_start)} to ${formatTime(r.window_end)}.`
    ),
    section("Endpoints", "usage-endpoints-section", endpoints),
    section("Scopes", "usage-scopes-section", scopes),
    section("Resources", "usage-resources-section", allowed, touched),
    suggestion(r)
  ];
}
async function openUsage(token) {
  const m = openModal(`Usage of “${token.name}”`);
  m.dialog.setAttribute("data-testid", "usage-modal");
  const status = h("p", { role: "status", "data-testid": "usage-status" }, "Loading…");
  m.body.append(status);
  const close = h("button", { type: "button" }, "Close");
  close.addEventListener("click", () => m.close());
  m.footer.append(close);
  close.focus();
  try {
    const res = await rpc("GetTokenUsageReport", {
      plan_id: token.plan_id,
      token_id: token.id,
      window_hours: 0
    });
    status.textContent = "Last 7 days.";
    m.body.append(...renderUsage(res));
  } catch (e) {
    status.textContent = e instanceof Error ? e.message : String(e);
  }
}

// src/main.ts
var KINDS = ["TOKEN_KIND_REST_API", "TOKEN_KIND_NPM_REGISTRY"];
var TOKEN_TIERS = /* @__PURE__ */ new Set(["PLAN_TIER_ORGANIZATION", "PLAN_TIER_ENTERPRISE"]);
var root = document.getElementById("app");
var tableArea = h("section", { class: "tokens", "aria-labelledby": "tokens-heading" });
var statusLine = h("p", { class: "status-line", role: "status", "data-testid": "status-line" });
var state;
function statusText(s) {
  switch (s) {
    case "TOKEN_STATUS_ACTIVE":
      return "Active";
    case "TOKEN_STATUS_EXPIRED":
      return "Expired";
    case "TOKEN_STATUS_REVOKED":
      return "Revoked";
    default:
      return "Unknown";
  }
}
function renderHeader() {
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Token type" });
  const buttons = KINDS.map(
    (kind) => h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${kind}`,
        "aria-controls": "tokens-panel",
        "aria-selected": String(kind === state.kind),
        tabindex: kind === state.kind ? 0 : -1,
        "data-testid": kind === "TOKEN_KIND_REST_API" ? "tab-rest" : "tab-npm"
      },
      kindLabel(kind)
    )
  );
  buttons.forEach((b, i) => {
    b.addEventListener("click", () => selectKind(KINDS[i]));
    b.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        const j = (i + (e.key === "ArrowRight" ? 1 : KINDS.length - 1)) % KINDS.length;
        selectKind(KINDS[j]);
        document.getElementById(`tab-${KINDS[j]}`)?.focus();
      }
    });
    tabs.append(b);
  });
  const select = h("select", { id: "org-select", "data-testid": "org-select" });
  for (const p of state.plans) {
    const opt = h("option", { value: p.id }, `${p.name} (${p.id})`);
    opt.selected = p.id === state.planId;
    select.append(opt);
  }
  select.addEventListener("change", () => {
    state.planId = select.value;
    void loadTokens();
  });
  const org = h("div", { class: "org" }, h("label", { for: "org-select" }, "Organization"), select);
  return h(
    "header",
    { class: "top" },
    h("h1", {}, "Plan access tokens"),
    h("div", { class: "bar" }, tabs, org),
    h("p", { class: "whoami" }, `Signed in as ${state.user}`)
  );
}
function selectKind(kind) {
  if (state.kind === kind) return;
  state.kind = kind;
  render();
  void loadTokens();
}
function closeMenus(except) {
  document.querySelectorAll(".row-menu [role=menu]").forEach((menu) => {
    if (menu === except) return;
    menu.hidden = true;
    menu.parentElement?.querySelector("button")?.setAttribute("aria-expanded", "false");
  });
}
function rowMenu(token) {
  const active = token.status === "TOKEN_STATUS_ACTIVE";
  const button = h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-label": `Actions for ${token.name}`,
      "data-testid": `menu-${token.id}`
    },
    "…"
  );
  const items = [
    ["Edit token", "edit", active, () => openEdit(token, state.catalog, () => void loadTokens())],
    ["Refresh token", "refresh", active, () => openRefresh(token, () => void loadTokens())],
    ["Revoke token", "revoke", token.status !== "TOKEN_STATUS_REVOKED", () => openRevoke(token, () => void loadTokens())],
    ["Audit log", "audit", true, () => void openAudit(token)],
    ["Usage report", "usage", true, () => void openUsage(token)]
  ];
  const menu = h("div", { role: "menu", class: "menu", "aria-label": `Actions for ${token.name}` });
  menu.hidden = true;
  const entries = items.map(([label, key, enabled, run]) => {
    const item = h("button", { type: "button", role: "menuitem", tabindex: -1, disabled: !enabled, "data-testid": `action-${key}` }, label);
    item.addEventListener("click", () => {
      closeMenus();
      run();
    });
    menu.append(item);
    return item;
  });
  const enabledEntries = () => entries.filter((e) => !e.disabled);
  const open = () => {
    closeMenus(menu);
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    enabledEntries()[0]?.focus();
  };
  button.addEventListener("click", () => menu.hidden ? open() : closeMenus());
  menu.addEventListener("keydown", (e) => {
    const list = enabledEntries();
    const i = list.indexOf(document.activeElement);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const j = (i + (e.key === "ArrowDown" ? 1 : list.length - 1)) % list.length;
      list[j]?.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeMenus();
      button.focus();
    }
  });
  return h("div", { class: "row-menu" }, button, menu);
}
function copyButton(text, label) {
  const b = h("button", { type: "button", class: "link-button", "aria-label": label }, "Copy");
  b.addEventListener("click", () => {
    void navigator.clipboard.writeText(text).then(() => {
      b.textContent = "Copied";
    });
  });
  return b;
}
function tokenRow(t) {
  const resources = t.all_resources ? "All resources" : t.resources.map((r) => r.link).join("\n");
  const status = statusText(t.status);
  const lastUsed = t.last_used_time ? `${formatTime(t.last_used_time)}${t.last_used_ip ? ` from ${t.last_used_ip}` : ""}` : "Never";
  return h(
    "tr",
    { class: `token-row status-${status.toLowerCase()}`, "data-testid": `row-${t.id}`, "data-token-id": t.id },
    h("td", {}, h("div", { class: "token-name" }, t.name), t.description ? h("div", { class: "hint" }, t.description) : null),
    h("td", {}, h("code", { class: "token-id" }, t.id), " ", copyButton(t.id, `Copy id of ${t.name}`)),
    h("td", { class: "scopes" }, t.scopes.join(", ")),
    h("td", { class: "resources" }, resources),
    h("td", {}, h("span", { class: `badge badge-${status.toLowerCase()}`, "data-testid": "status" }, status)),
    h("td", {}, formatDate(t.expire_time)),
    h("td", {}, lastUsed),
    h("td", {}, t.created_by),
    h("td", {}, rowMenu(t))
  );
}
function currentPlan() {
  return state.plans.find((p) => p.id === state.planId);
}
function renderTable() {
  clear(tableArea);
  const plan = currentPlan();
  const canCreate = plan !== void 0 && TOKEN_TIERS.has(plan.tier);
  const generate = h(
    "button",
    { type: "button", class: "primary", "data-testid": "generate", disabled: !canCreate },
    `Generate ${kindLabel(state.kind)} token`
  );
  generate.addEventListener(
    "click",
    () => openGenerate(state.kind, state.planId, state.catalog, () => void loadTokens())
  );
  tableArea.append(
    h("div", { class: "table-head" }, h("h2", { id: "tokens-heading" }, `${kindLabel(state.kind)} tokens`), generate)
  );
  if (!canCreate && plan) {
    tableArea.append(h("p", { class: "hint" }, "Plan access tokens need an Organization or Enterprise plan."));
  }
  if (state.tokens.length === 0) {
    tableArea.append(h("p", { class: "empty", "data-testid": "empty" }, "No tokens yet."));
    return;
  }
  const head = ["Name", "ID", "Scopes", "Resources", "Status", "Expiration", "Last used", "Created by", "Actions"];
  tableArea.append(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "token-table", "data-testid": "token-table" },
        h("caption", { class: "visually-hidden" }, `${kindLabel(state.kind)} plan access tokens`),
        h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...state.tokens.map(tokenRow))
      )
    )
  );
}
function render() {
  clear(root);
  root.append(
    renderHeader(),
    h("main", { id: "tokens-panel", role: "tabpanel", "aria-labelledby": `tab-${state.kind}` }, statusLine, tableArea)
  );
  renderTable();
}
var loadGeneration = 0;
async function loadTokens() {
  const generation = ++loadGeneration;
  statusLine.textContent = "Loading…";
  try {
    const tokens = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const res = await rpc("ListTokens", {
        plan_id: state.planId,
        kind: state.kind,
        page_size: 200,
        page_token: pageToken
      });
      tokens.push(...res.tokens);
      pageToken = res.next_page_token;
      if (!pageToken) break;
    }
    if (generation !== loadGeneration) return;
    state.tokens = tokens;
    statusLine.textContent = `${tokens.length} token(s).`;
  } catch (e) {
    if (generation !== loadGeneration) return;
    state.tokens = [];
    statusLine.textContent = e instanceof Error ? e.message : String(e);
  }
  renderTable();
}
function fatal(message) {
  clear(root);
  root.append(h("main", {}, h("h1", {}, "Plan access tokens"), h("p", { class: "form-error", role: "alert", "data-testid": "fatal" }, message)));
}
async function start() {
  document.addEventListener("click", (e) => {
    if (!(e.target instanceof Element) || !e.target.closest(".row-menu")) closeMenus();
  });
  try {
    const session = await getSession();
    const [catalog, plans] = await Promise.all([getCatalog(), rpc("ListPlans", {})]);
    if (plans.plans.length === 0) {
      clear(root);
      root.append(
        h(
          "main",
          {},
          h("h1", {}, "Plan access tokens"),
          h("p", { class: "whoami" }, `Signed in as ${session.user}`),
          h("p", { "data-testid": "no-plans" }, "You are not an administrator of any organization. Plan access tokens are managed by plan administrators.")
        )
      );
      return;
    }
    state = { user: session.user, catalog, plans: plans.plans, planId: plans.plans[0].id, kind: "TOKEN_KIND_REST_API", tokens: [] };
    render();
    await loadTokens();
  } catch (e) {
    fatal(e instanceof ApiError && e.status === 401 ? `Not signed in: ${e.message}` : String(e instanceof Error ? e.message : e));
  }
}
void start();
