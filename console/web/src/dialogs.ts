// The modals of the page: Generate (three pages), Edit, Refresh, Revoke,
// Audit, and the one-time secret box.

import { ApiError, AuditEvent, Catalog, Token, TokenKind, requestId, rpc } from "./api";
import { formatDate, formatTime, h } from "./dom";
import { Modal, focusFirst, openModal } from "./modal";
import { Page, TokenForm } from "./token_form";

export function kindLabel(kind: TokenKind): string {
  return kind === "TOKEN_KIND_REST_API" ? "REST API" : "npm registry";
}

function generalError(): HTMLParagraphElement {
  return h("p", { class: "form-error", role: "alert", "data-testid": "form-error" });
}

// Shows `secret` once, with Copy. Nothing keeps it: the string lives only in
// this dialog's DOM, which is removed on close.
export function showSecret(title: string, secret: string, note: string, onClose: () => void): void {
  const m = openModal(title, onClose);
  const box = h("code", { class: "secret", "data-testid": "secret", tabindex: 0, "aria-label": "Token secret" }, secret);
  const status = h("span", { class: "copy-status", role: "status", "data-testid": "copy-status" });
  const copy = h("button", { type: "button", class: "primary", "data-testid": "copy-secret" }, "Copy");
  copy.addEventListener("click", () => {
    navigator.clipboard.writeText(box.textContent ?? "").then(
      () => (status.textContent = "Copied to the clipboard."),
      () => (status.textContent = "Copy failed: select the text and copy it."),
    );
  });
  m.body.append(
    h(
      "p",
      { class: "warning", "data-testid": "secret-warning" },
      "Store this token in a secure location, such as a password vault or a secrets manager, now. This is the only time the secret is displayed: it will not be shown again.",
    ),
    h("div", { class: "secret-row" }, box, copy),
    status,
  );
  if (note) m.body.append(h("p", { class: "hint" }, note));
  const done = h("button", { type: "button", "data-testid": "secret-done" }, "Done");
  done.addEventListener("click", () => m.close());
  m.footer.append(done);
  copy.focus();
}

export function openGenerate(kind: TokenKind, planId: string, catalog: Catalog, onDone: () => void): void {
  const form = new TokenForm(kind, planId, catalog);
  const m = openModal(`Generate ${kindLabel(kind)} plan access token`);
  m.dialog.setAttribute("data-testid", "generate-modal");
  const pages: Record<Page, { title: string; el: HTMLElement }> = {
    describe: { title: "Describe your token", el: form.describeSection(true) },
    scopes: { title: "Choose scopes", el: form.scopesSection() },
    resources: { title: "Choose resources", el: form.resourcesSection() },
  };
  const order: Page[] = ["describe", "scopes", "resources"];
  const step = h("p", { class: "step", "aria-live": "polite", "data-testid": "modal-step" });
  const error = generalError();
  const back = h("button", { type: "button", "data-testid": "modal-back" }, "Back");
  const next = h("button", { type: "button", class: "primary", "data-testid": "modal-next" }, "Next");
  let current: Page = "describe";
  const show = (page: Page) => {
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
      const res = await rpc<{ token: Token; secret: string }>("CreateToken", {
        plan_id: planId,
        kind,
        ...v,
        request_id: requestId(),
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

export function openEdit(token: Token, catalog: Catalog, onDone: () => void): void {
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
    error,
  );
  m.footer.append(cancel, save);
  save.addEventListener("click", async () => {
    error.textContent = "";
    const ok = (["describe", "scopes", "resources"] as Page[]).map((p) => form.checkPage(p)).every(Boolean);
    if (!ok) return;
    const v = form.values();
    const paths: string[] = [];
    if (v.name !== token.name) paths.push("name");
    if (v.description !== token.description) paths.push("description");
    if (v.scopes.slice().sort().join(",") !== token.scopes.slice().sort().join(",")) paths.push("scopes");
    const oldLinks = token.resources.map((r) => r.link).join("\n");
    if (v.all_resources !== token.all_resources || (!v.all_resources && v.resource_links.join("\n") !== oldLinks)) {
      paths.push("resources");
    }
    if (paths.length === 0) return m.close();
    save.disabled = true;
    try {
      await rpc<Token>("UpdateToken", {
        plan_id: token.plan_id,
        token_id: token.id,
        update_mask: paths.join(","),
        name: v.name,
        description: v.description,
        scopes: v.scopes,
        all_resources: v.all_resources,
        resource_links: v.resource_links,
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

function confirmModal(
  title: string,
  testid: string,
  text: string[],
  action: string,
  run: (m: Modal, error: HTMLElement) => Promise<void>,
): void {
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

export function openRefresh(token: Token, onDone: () => void): void {
  const newExpiry = new Date(Date.now() + token.lifetime_days * 86400 * 1000).toISOString();
  confirmModal(
    `Refresh token “${token.name}”`,
    "refresh-modal",
    [
      `New expiration: ${formatDate(newExpiry)} (today plus the token's original lifetime of ${token.lifetime_days} days).`,
      "The previous secret continues to work for 24 hours.",
    ],
    "Refresh token",
    async (m) => {
      const res = await rpc<{ token: Token; secret: string; previous_secret_expire_time?: string }>("RefreshToken", {
        plan_id: token.plan_id,
        token_id: token.id,
        request_id: requestId(),
      });
      m.close();
      onDone();
      showSecret(
        "Your refreshed plan access token",
        res.secret,
        `Expires ${formatDate(res.token.expire_time)}. The previous secret works until ${formatTime(res.previous_secret_expire_time)}.`,
        onDone,
      );
    },
  );
}

export function openRevoke(token: Token, onDone: () => void): void {
  confirmModal(
    `Revoke token “${token.name}”`,
    "revoke-modal",
    [
      "The plan access token is immediately revoked. This action cannot be undone.",
      "To replace the plan access token, you'll need to create a new one with the same scopes and resource access.",
    ],
    "Revoke token",
    async (m) => {
      await rpc<Token>("RevokeToken", { plan_id: token.plan_id, token_id: token.id });
      m.close();
      onDone();
    },
  );
}

function describeDetails(json: string): string {
  if (!json) return "";
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export async function openAudit(token: Token): Promise<void> {
  const m = openModal(`Audit log of “${token.name}”`);
  m.dialog.setAttribute("data-testid", "audit-modal");
  const status = h("p", { role: "status" }, "Loading…");
  m.body.append(status);
  const close = h("button", { type: "button" }, "Close");
  close.addEventListener("click", () => m.close());
  m.footer.append(close);
  close.focus();
  try {
    const res = await rpc<{ events: AuditEvent[] }>("ListAuditEvents", {
      plan_id: token.plan_id,
      token_id: token.id,
      page_size: 100,
    });
    status.textContent = res.events.length === 0 ? "No events." : `${res.events.length} event(s).`;
    const rows = res.events.map((ev) =>
      h(
        "tr",
        { "data-testid": "audit-row" },
        h("td", {}, formatTime(ev.time)),
        h("td", {}, ev.actor),
        h("td", {}, ev.action),
        h("td", {}, h("pre", { class: "details" }, describeDetails(ev.details_json))),
      ),
    );
    m.body.append(
      h(
        "table",
        { class: "audit" },
        h("caption", { class: "visually-hidden" }, "Audit events"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Before / after"))),
        h("tbody", {}, ...rows),
      ),
    );
  } catch (e) {
    status.textContent = e instanceof Error ? e.message : String(e);
  }
}
