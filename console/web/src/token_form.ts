// The token's fields as form sections, shared by the Generate modal (three
// pages) and the Edit modal (one page). Every control has a label; every
// error is shown next to its control (aria-describedby, aria-invalid).
// Resource links are checked as they are typed against the authority's own
// parser (POST /api/links:validate, common/resource_link.cc).

import { ApiError, Catalog, LinkCheck, Token, TokenKind, validateLink } from "./api";
import { clear, h, uid } from "./dom";

export type Page = "describe" | "scopes" | "resources";

export interface TokenValues {
  name: string;
  description: string;
  expires_in_days: number;
  scopes: string[];
  all_resources: boolean;
  resource_links: string[];
}

interface FieldSlot {
  control: HTMLElement;
  error: HTMLElement;
  page: Page;
}

export function splitLinks(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export class TokenForm {
  private readonly name: HTMLInputElement;
  private readonly description: HTMLTextAreaElement;
  private readonly days: HTMLInputElement;
  private readonly scopeBoxes: HTMLInputElement[] = [];
  private readonly allResources: HTMLInputElement;
  private readonly selectedResources: HTMLInputElement;
  private readonly links: HTMLTextAreaElement;
  private readonly linkResults: HTMLUListElement;
  private readonly slots = new Map<string, FieldSlot>();
  private linkTimer: number | undefined;
  private linkGeneration = 0;
  private invalidLinks = 0;

  constructor(
    readonly kind: TokenKind,
    readonly planId: string,
    readonly catalog: Catalog,
    initial?: Token,
  ) {
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

  private field(key: string, page: Page, label: string, control: HTMLElement, hint?: string): HTMLElement {
    const id = uid("field");
    const errorId = `${id}-error`;
    control.id = id;
    const described = [errorId];
    let hintEl: HTMLElement | null = null;
    if (hint) {
      hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
      described.push(`${id}-hint`);
    }
    control.setAttribute("aria-describedby", described.join(" "));
    const error = h("p", { class: "field-error", id: errorId, "data-testid": `error-${key}` });
    this.slots.set(key, { control, error, page });
    return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, error);
  }

  describeSection(withExpiration: boolean): HTMLElement {
    return h(
      "div",
      { class: "section" },
      this.field("name", "describe", "Name", this.name),
      this.field("description", "describe", "Description", this.description),
      withExpiration &&
        this.field(
          "expires_in_days",
          "describe",
          "Expiration (days)",
          this.days,
          `Up to ${this.catalog.max_expiration_days} days.`,
        ),
    );
  }

  scopesSection(): HTMLElement {
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
      error,
    );
    this.slots.set("scopes", { control: fieldset, error, page: "scopes" });
    return fieldset;
  }

  resourcesSection(): HTMLElement {
    const allId = uid("res");
    const selId = uid("res");
    this.allResources.id = allId;
    this.selectedResources.id = selId;
    const examples =
      this.kind === "TOKEN_KIND_REST_API"
        ? "One link per line: files, projects, teams or workspaces of this organization, e.g. https://figma.com/design/ABCDEFG123 or https://figma.com/files/ORG/project/123."
        : "One npm scope per line, e.g. @acme.";
    return h(
      "fieldset",
      { class: "section" },
      h("legend", {}, "Resources"),
      h(
        "div",
        { class: "radio" },
        this.allResources,
        h("label", { for: allId }, "All resources"),
      ),
      h("p", { class: "hint" }, "Any resource in the organization; the scopes still limit what can be done."),
      h(
        "div",
        { class: "radio" },
        this.selectedResources,
        h("label", { for: selId }, "Only selected resources"),
      ),
      this.field("resource_links", "resources", this.kind === "TOKEN_KIND_REST_API" ? "Resource links" : "npm scopes", this.links, examples),
      this.linkResults,
    );
  }

  private syncResources(): void {
    const selected = this.selectedResources.checked;
    this.links.disabled = !selected;
    if (!selected) {
      clear(this.linkResults);
      this.setError("resource_links", "");
    } else {
      this.scheduleLinkCheck();
    }
  }

  private scheduleLinkCheck(): void {
    window.clearTimeout(this.linkTimer);
    this.linkTimer = window.setTimeout(() => void this.checkLinks(), 250);
  }

  // Checks every link; results replace the list unless a newer check began.
  private async checkLinks(): Promise<void> {
    const generation = ++this.linkGeneration;
    const links = splitLinks(this.links.value).slice(0, this.catalog.max_resource_links + 1);
    const results = await Promise.all(
      links.map((l) =>
        validateLink(this.kind, this.planId, l).catch((e: unknown): LinkCheck => ({
          valid: false,
          message: e instanceof ApiError ? e.message : "could not check",
        })),
      ),
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
      this.invalidLinks > 0 ? `${this.invalidLinks} link(s) are not valid` : "",
    );
  }

  setError(key: string, message: string): Page | null {
    const base = key.replace(/\[\d+\]$/, "");
    const slot = this.slots.get(base);
    if (!slot) return null;
    slot.error.textContent = message;
    if (message) slot.control.setAttribute("aria-invalid", "true");
    else slot.control.removeAttribute("aria-invalid");
    return slot.page;
  }

  clearErrors(): void {
    for (const key of this.slots.keys()) this.setError(key, "");
  }

  // Client-side checks of one page (the authority checks again). Returns
  // true when the page is fine.
  checkPage(page: Page): boolean {
    let ok = true;
    const fail = (key: string, message: string) => {
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
        const links = splitLinks(this.links.value);
        if (links.length === 0) fail("resource_links", "Add at least one link, or choose All resources.");
        else if (links.length > this.catalog.max_resource_links) {
          fail("resource_links", `At most ${this.catalog.max_resource_links} links.`);
        } else if (this.invalidLinks > 0) {
          fail("resource_links", `${this.invalidLinks} link(s) are not valid`);
        }
      }
    }
    return ok;
  }

  values(): TokenValues {
    const selected = this.selectedResources.checked;
    return {
      name: this.name.value.trim(),
      description: this.description.value,
      expires_in_days: Number(this.days.value),
      scopes: this.scopeBoxes.filter((b) => b.checked).map((b) => b.value),
      all_resources: !selected,
      resource_links: selected ? splitLinks(this.links.value) : [],
    };
  }

  // Shows an authority error next to its field; false when it names none.
  showApiError(e: ApiError): Page | null {
    if (!e.field) return null;
    return this.setError(e.field, e.message);
  }
}
