// The one way the console builds DOM. Text (strings, numbers) always becomes a
// text node: marketer text (rule titles, notes, content, error messages) can
// never turn into markup. There is no innerHTML anywhere in the console.

// h("button", {type: "button", class: "x", onclick: fn, "aria-label": "..."}, child...)
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "text") {
      node.textContent = String(value);
    } else if (name === "value" || name === "checked" || name === "selected" || name === "disabled") {
      node[name] = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Empties a node and fills it anew.
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

let ids = 0;
export function uid(prefix = "c") {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled form field: <label for=id>text</label> + control.
export function field(label, control, extra = null) {
  if (!control.id) control.id = uid("f");
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, extra);
}

// A live region for messages that screen readers should hear.
export function notice(kind = "status") {
  return h("p", { class: `notice ${kind}`, role: kind === "alert" ? "alert" : "status",
    "aria-live": kind === "alert" ? "assertive" : "polite" });
}

export function say(region, text, tone = "") {
  region.textContent = text || "";
  region.dataset.tone = tone;
  region.hidden = !text;
}
