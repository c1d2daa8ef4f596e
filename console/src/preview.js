// The widget preview: the storefront widget's own renderer (widgets/src/render.js)
// draws the chosen rule's action, as explain rendered it for the profile, on a
// small stage that stands for the shop's page. The renderer takes a window; it
// gets one whose body is the stage (a transformed box, so the widget's fixed
// position is relative to it), whose links go nowhere and whose keys are the
// stage's. It mounts in this document, so its constructed stylesheet (adopted
// by each widget's closed shadow root) stays in the realm that made it.
import { render } from "../../widgets/src/render.js";
import { h, replace } from "./dom.js";

export function stageWindow(stage, win) {
  const doc = stage.ownerDocument;
  return {
    document: { createElement: (tag) => doc.createElement(tag), body: stage },
    navigator: win.navigator,
    location: { href: win.location.href, assign: () => {} },
    setTimeout: (fn, ms) => win.setTimeout(fn, ms),
    addEventListener: (type, fn) => stage.addEventListener(type, fn),
    removeEventListener: (type, fn) => stage.removeEventListener(type, fn),
  };
}

export function createPreview(ctx) {
  const { t, win } = ctx;
  const stage = h("div", { class: "stage", tabindex: "-1" });
  const caption = h("p", { class: "muted small" }, t("preview.empty"));
  const node = h("section", { class: "preview", "aria-labelledby": "preview-title" },
    h("h3", { id: "preview-title" }, t("preview.title")), caption, stage);
  let shown = null;

  function clear() {
    if (shown) shown.remove();
    shown = null;
    replace(stage);
  }

  function show(rule, frame) {
    clear();
    stage.setAttribute("aria-label", t("preview.stage", { rule }));
    stage.dataset.rule = rule;
    const action = { rule, widget: frame.widget, arming: frame.arming || {},
      // A note stays on the stage instead of leaving after its few seconds.
      content: { ...(frame.content || {}), duration: 86400 } };
    caption.textContent = t("preview.stage", { rule });
    shown = render(stageWindow(stage, win), action, () => {});
    if (!shown) caption.textContent = t("preview.none");
  }

  return { node, show, clear };
}
