// pat-console: the plan access tokens page (the seed's developer hub page).

import { ApiError, Catalog, Plan, Token, TokenKind, getCatalog, getSession, rpc } from "./api";
import { kindLabel, openAudit, openEdit, openGenerate, openRefresh, openRevoke } from "./dialogs";
import { clear, formatDate, formatTime, h } from "./dom";
import { openUsage } from "./usage_panel";

interface State {
  user: string;
  catalog: Catalog;
  plans: Plan[];
  planId: string;
  kind: TokenKind;
  tokens: Token[];
}

const KINDS: TokenKind[] = ["TOKEN_KIND_REST_API", "TOKEN_KIND_NPM_REGISTRY"];
const TOKEN_TIERS = new Set(["PLAN_TIER_ORGANIZATION", "PLAN_TIER_ENTERPRISE"]);

const root = document.getElementById("app") as HTMLElement;
const tableArea = h("section", { class: "tokens", "aria-labelledby": "tokens-heading" });
const statusLine = h("p", { class: "status-line", role: "status", "data-testid": "status-line" });
let state: State;

function statusText(s: string): string {
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

function renderHeader(): HTMLElement {
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Token type" });
  const buttons = KINDS.map((kind) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${kind}`,
        "aria-controls": "tokens-panel",
        "aria-selected": String(kind === state.kind),
        tabindex: kind === state.kind ? 0 : -1,
        "data-testid": kind === "TOKEN_KIND_REST_API" ? "tab-rest" : "tab-npm",
      },
      kindLabel(kind),
    ),
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
    h("p", { class: "whoami" }, `Signed in as ${state.user}`),
  );
}

function selectKind(kind: TokenKind): void {
  if (state.kind === kind) return;
  state.kind = kind;
  render();
  void loadTokens();
}

function closeMenus(except?: HTMLElement): void {
  document.querySelectorAll<HTMLElement>(".row-menu [role=menu]").forEach((menu) => {
    if (menu === except) return;
    menu.hidden = true;
    menu.parentElement?.querySelector("button")?.setAttribute("aria-expanded", "false");
  });
}

function rowMenu(token: Token): HTMLElement {
  const active = token.status === "TOKEN_STATUS_ACTIVE";
  const button = h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-label": `Actions for ${token.name}`,
      "data-testid": `menu-${token.id}`,
    },
    "…",
  );
  const items: Array<[string, string, boolean, () => void]> = [
    ["Edit token", "edit", active, () => openEdit(token, state.catalog, () => void loadTokens())],
    ["Refresh token", "refresh", active, () => openRefresh(token, () => void loadTokens())],
    ["Revoke token", "revoke", token.status !== "TOKEN_STATUS_REVOKED", () => openRevoke(token, () => void loadTokens())],
    ["Audit log", "audit", true, () => void openAudit(token)],
    ["Usage report", "usage", true, () => void openUsage(token)],
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
  button.addEventListener("click", () => (menu.hidden ? open() : closeMenus()));
  menu.addEventListener("keydown", (e) => {
    const list = enabledEntries();
    const i = list.indexOf(document.activeElement as HTMLButtonElement);
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

function copyButton(text: string, label: string): HTMLElement {
  const b = h("button", { type: "button", class: "link-button", "aria-label": label }, "Copy");
  b.addEventListener("click", () => {
    void navigator.clipboard.writeText(text).then(() => {
      b.textContent = "Copied";
    });
  });
  return b;
}

function tokenRow(t: Token): HTMLElement {
  const resources = t.all_resources
    ? "All resources"
    : t.resources.map((r) => r.link).join("\n");
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
    h("td", {}, rowMenu(t)),
  );
}

function currentPlan(): Plan | undefined {
  return state.plans.find((p) => p.id === state.planId);
}

function renderTable(): void {
  clear(tableArea);
  const plan = currentPlan();
  const canCreate = plan !== undefined && TOKEN_TIERS.has(plan.tier);
  const generate = h(
    "button",
    { type: "button", class: "primary", "data-testid": "generate", disabled: !canCreate },
    `Generate ${kindLabel(state.kind)} token`,
  );
  generate.addEventListener("click", () =>
    openGenerate(state.kind, state.planId, state.catalog, () => void loadTokens()),
  );
  tableArea.append(
    h("div", { class: "table-head" }, h("h2", { id: "tokens-heading" }, `${kindLabel(state.kind)} tokens`), generate),
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
        h("tbody", {}, ...state.tokens.map(tokenRow)),
      ),
    ),
  );
}

function render(): void {
  clear(root);
  root.append(
    renderHeader(),
    h("main", { id: "tokens-panel", role: "tabpanel", "aria-labelledby": `tab-${state.kind}` }, statusLine, tableArea),
  );
  renderTable();
}

let loadGeneration = 0;
async function loadTokens(): Promise<void> {
  const generation = ++loadGeneration;
  statusLine.textContent = "Loading…";
  try {
    const tokens: Token[] = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const res = await rpc<{ tokens: Token[]; next_page_token: string }>("ListTokens", {
        plan_id: state.planId,
        kind: state.kind,
        page_size: 200,
        page_token: pageToken,
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

function fatal(message: string): void {
  clear(root);
  root.append(h("main", {}, h("h1", {}, "Plan access tokens"), h("p", { class: "form-error", role: "alert", "data-testid": "fatal" }, message)));
}

async function start(): Promise<void> {
  document.addEventListener("click", (e) => {
    if (!(e.target instanceof Element) || !e.target.closest(".row-menu")) closeMenus();
  });
  try {
    const session = await getSession();
    const [catalog, plans] = await Promise.all([getCatalog(), rpc<{ plans: Plan[] }>("ListPlans", {})]);
    if (plans.plans.length === 0) {
      clear(root);
      root.append(
        h(
          "main",
          {},
          h("h1", {}, "Plan access tokens"),
          h("p", { class: "whoami" }, `Signed in as ${session.user}`),
          h("p", { "data-testid": "no-plans" }, "You are not an administrator of any organization. Plan access tokens are managed by plan administrators."),
        ),
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
