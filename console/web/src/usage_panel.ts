// The least-privilege report of one token (TokenService.GetTokenUsageReport,
// docs/usage-report.md): endpoints by count, scopes used vs held, resources
// touched vs allowed, and the suggested narrower token.

import { Token, TokenResource, rpc } from "./api";
import { Child, formatTime, h } from "./dom";
import { openModal } from "./modal";

// int64 fields arrive as JSON strings (protobuf JSON mapping).
type Int64 = string | number;

interface UsageReport {
  window_start?: string;
  window_end?: string;
  total_requests: Int64;
  endpoints: Array<{ endpoint: string; count: Int64; satisfying_scopes: string[] }>;
  scopes: Array<{ scope: string; held: boolean; count: Int64 }>;
  all_resources: boolean;
  allowed_resources: TokenResource[];
  touched_resources: Array<{ resource?: TokenResource; count: Int64 }>;
  unused_resources: TokenResource[];
  all_resources_requests: Int64;
  suggestion?: { scopes: string[]; all_resources: boolean; resources: TokenResource[]; no_traffic: boolean };
}

function table(testid: string, caption: string, head: string[], rows: Child[][]): HTMLElement {
  return h(
    "table",
    { class: "audit usage", "data-testid": testid },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c))))),
  );
}

function section(title: string, testid: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "usage-section", "data-testid": testid }, h("h3", {}, title), ...children);
}

function links(resources: TokenResource[]): string {
  return resources.map((r) => r.link || `${r.kind}:${r.id}`).join("\n");
}

function suggestion(r: UsageReport): HTMLElement {
  const g = r.suggestion;
  if (!g || g.no_traffic) {
    return section(
      "Suggested token",
      "usage-suggestion",
      h("p", { "data-testid": "usage-no-traffic" }, "No traffic in the window: nothing to suggest. A token nobody uses can be revoked."),
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
      h("dd", { "data-testid": "usage-suggested-resources" }, g.all_resources ? "All resources" : links(g.resources) || "none"),
    ),
  );
}

export function renderUsage(r: UsageReport): HTMLElement[] {
  const endpoints =
    r.endpoints.length === 0
      ? h("p", { "data-testid": "usage-endpoints-empty" }, "No requests.")
      : table(
          "usage-endpoints",
          "Endpoints by count",
          ["Endpoint", "Requests", "Satisfied by"],
          r.endpoints.map((e) => [e.endpoint, String(e.count), e.satisfying_scopes.join(", ")]),
        );
  const scopes = table(
    "usage-scopes",
    "Scopes used vs held",
    ["Scope", "Held", "Requests"],
    r.scopes.map((s) => [s.scope, s.held ? "held" : "not held", String(s.count)]),
  );
  const touched = table(
    "usage-touched",
    "Resources touched",
    ["Resource", "Requests"],
    r.touched_resources.map((t) => [t.resource ? links([t.resource]) : "", String(t.count)]),
  );
  const allowed = h(
    "dl",
    {},
    h("dt", {}, "Allowed"),
    h("dd", { "data-testid": "usage-allowed" }, r.all_resources ? "All resources" : links(r.allowed_resources) || "none"),
    h("dt", {}, "Allowed but unused"),
    h("dd", { "data-testid": "usage-unused" }, links(r.unused_resources) || "none"),
    h("dt", {}, "Requests needing all resources"),
    h("dd", { "data-testid": "usage-all-resources-requests" }, String(r.all_resources_requests)),
  );
  return [
    h(
      "p",
      { "data-testid": "usage-summary" },
      `${r.total_requests} request(s) from ${formatTime(r.window_start)} to ${formatTime(r.window_end)}.`,
    ),
    section("Endpoints", "usage-endpoints-section", endpoints),
    section("Scopes", "usage-scopes-section", scopes),
    section("Resources", "usage-resources-section", allowed, touched),
    suggestion(r),
  ];
}

export async function openUsage(token: Token): Promise<void> {
  const m = openModal(`Usage of “${token.name}”`);
  m.dialog.setAttribute("data-testid", "usage-modal");
  const status = h("p", { role: "status", "data-testid": "usage-status" }, "Loading…");
  m.body.append(status);
  const close = h("button", { type: "button" }, "Close");
  close.addEventListener("click", () => m.close());
  m.footer.append(close);
  close.focus();
  try {
    const res = await rpc<UsageReport>("GetTokenUsageReport", {
      plan_id: token.plan_id,
      token_id: token.id,
      window_hours: 0,
    });
    status.textContent = "Last 7 days.";
    m.body.append(...renderUsage(res));
  } catch (e) {
    status.textContent = e instanceof Error ? e.message : String(e);
  }
}
