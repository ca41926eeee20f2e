// Accessible modal dialogs on the native <dialog> element: showModal() makes
// the rest of the page inert (focus stays inside), Escape closes, focus
// returns to the control that opened it. Closing removes the dialog from the
// DOM, so a secret shown in it is gone with it.

import { clear, h, uid } from "./dom";

export interface Modal {
  dialog: HTMLDialogElement;
  title: HTMLHeadingElement;
  body: HTMLDivElement;
  footer: HTMLDivElement;
  close(): void;
}

export function openModal(titleText: string, onClose?: () => void): Modal {
  const opener = document.activeElement as HTMLElement | null;
  const titleId = uid("modal-title");
  const title = h("h2", { id: titleId, class: "modal-title" }, titleText);
  // Focusable so that a keyboard user can scroll it (long audit logs).
  const body = h("div", { class: "modal-body", tabindex: 0 });
  const footer = h("div", { class: "modal-footer" });
  const closeButton = h("button", { type: "button", class: "icon-button modal-close", "aria-label": "Close" }, "×");
  const dialog = h(
    "dialog",
    { class: "modal", "aria-labelledby": titleId },
    h("div", { class: "modal-header" }, title, closeButton),
    body,
    footer,
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

const FOCUSABLE =
  "button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex='-1'])";

// Tab and Shift+Tab wrap around inside the dialog instead of leaving it for
// the browser's own controls.
function trapTab(dialog: HTMLDialogElement, e: KeyboardEvent): void {
  if (e.key !== "Tab") return;
  const items = Array.from(dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => !el.closest("[hidden]") && el.getClientRects().length > 0,
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

// Focuses the first focusable control inside `root`.
export function focusFirst(root: HTMLElement): void {
  const el = root.querySelector<HTMLElement>(
    "input:not([disabled]), textarea:not([disabled]), select:not([disabled]), button:not([disabled])",
  );
  el?.focus();
}
