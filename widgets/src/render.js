// The four DO widgets, each in its own closed Shadow DOM with an adopted
// stylesheet. Marketer content only ever goes through textContent and
// safeLink: never innerHTML.
import { CSS } from "./styles.js";
import { safeLink } from "./links.js";

let sheet = null;

function stylesheet() {
  if (!sheet && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

function el(doc, tag, cls, text) {
  const node = doc.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

function closeButton(doc, onClose) {
  const button = el(doc, "button", "close", "×");
  button.type = "button";
  button.setAttribute("aria-label", "닫기");
  button.addEventListener("click", (e) => { e.stopPropagation(); onClose(); });
  return button;
}

function isMobile(win) {
  return /Mobi|Android|iPhone|iPad/i.test(win.navigator.userAgent || "");
}

function isMac(win) {
  return /Mac|iPhone|iPad/i.test(win.navigator.platform || win.navigator.userAgent || "");
}

// A small decorative image, only from an http(s) or relative address.
function thumb(doc, win, src) {
  const image = safeLink(src, win.location.href);
  if (!image) return null;
  const img = el(doc, "img", "thumb");
  img.src = image;
  img.alt = "";
  return img;
}

// Recommended products (content.products): each a link with its image, name
// and price in won, all text. A card's own link opens that product.
function productCards(doc, win, products, open) {
  if (!Array.isArray(products) || !products.length) return null;
  const list = el(doc, "ul", "cards");
  list.setAttribute("aria-label", "추천 상품");
  for (const product of products) {
    const link = safeLink(product && product.link, win.location.href);
    if (!link) continue;
    const item = el(doc, "li");
    const card = el(doc, "button", "product");
    card.type = "button";
    const image = thumb(doc, win, product.image);
    if (image) card.append(image);
    const about = el(doc, "span", "about");
    about.append(el(doc, "span", "name", String(product.name || "")),
      el(doc, "span", "price", String(product.price_text || "")));
    card.append(about);
    card.addEventListener("click", () => open(link));
    item.append(card);
    list.append(item);
  }
  return list.childNodes.length ? list : null;
}

export function bookmarkKeys(win) {
  if (isMobile(win)) return "공유 → 홈 화면에 추가";
  return isMac(win) ? "⌘ + D" : "Ctrl + D";
}

// Renders an action; `report(what)` is called once per "shown", "clicked", "closed".
export function render(win, action, report) {
  const doc = win.document;
  const content = action.content || {};
  const host = doc.createElement("ondo-widget");
  const position = content.position || (action.widget === "push_note" ? "bottom-right" :
    action.widget === "bookmark_prompt" ? "center" : "bottom-left");
  host.className = position;
  host.setAttribute("data-ondo-rule", action.rule);
  const root = host.attachShadow({ mode: "closed" });
  const css = stylesheet();
  if (css) root.adoptedStyleSheets = [css];
  let gone = false;
  const remove = (what) => {
    if (gone) return;
    gone = true;
    win.removeEventListener("keydown", onKey);
    if (what) report(what);
    host.remove();
  };
  const onKey = (e) => { if (e.key === "Escape") remove("closed"); };
  const link = safeLink(content.link, win.location.href);
  const open = (to) => {
    report("clicked");
    remove(null);
    const target = typeof to === "string" ? to : link;
    if (target) win.location.assign(target);
  };
  const cards = productCards(doc, win, content.products, open);
  if (action.widget === "popcorn_button") {
    const wrap = el(doc, "div", "wrap");
    const button = el(doc, "button", "pop");
    button.type = "button";
    // The icon is text (an emoji such as 🎁), never a link or markup.
    if (content.icon) button.append(el(doc, "span", "icon", content.icon));
    button.append(el(doc, "span", "label", content.text));
    button.setAttribute("aria-label", content.text || "");
    button.addEventListener("click", () => open());
    wrap.append(button, closeButton(doc, () => remove("closed")));
    if (cards) wrap.prepend(cards);
    root.append(wrap);
  } else if (action.widget === "push_note") {
    const card = el(doc, "div", "card");
    card.setAttribute("role", "status");
    const image = thumb(doc, win, content.image);
    if (image) card.append(image);
    const body = el(doc, "div", "body");
    body.append(el(doc, "span", "title", content.title));
    if (content.body) body.append(el(doc, "p", "text", content.body));
    if (link) {
      const go = el(doc, "button", "link", "자세히 보기");
      go.type = "button";
      go.addEventListener("click", () => open());
      body.append(go);
    }
    if (cards) body.append(cards);
    card.append(body, closeButton(doc, () => remove("closed")));
    root.append(card);
    const seconds = Number(content.duration || 8);
    win.setTimeout(() => remove(null), seconds * 1000);
  } else if (action.widget === "round_floating") {
    const wrap = el(doc, "div", "wrap");
    const button = el(doc, "button", "round");
    button.type = "button";
    const image = safeLink(content.image, win.location.href);
    if (image) {
      const img = el(doc, "img");
      img.src = image;
      img.alt = content.text || "";
      button.append(img);
    } else {
      button.textContent = content.text || "";
    }
    button.setAttribute("aria-label", content.text || "배너");
    button.addEventListener("click", () => open());
    wrap.append(button, closeButton(doc, () => remove("closed")));
    if (cards) wrap.prepend(cards);
    root.append(wrap);
  } else if (action.widget === "bookmark_prompt") {
    const card = el(doc, "div", "card");
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-label", "즐겨찾기 안내");
    const body = el(doc, "div", "body");
    body.append(el(doc, "p", "text", content.text));
    body.append(el(doc, "span", "keys", bookmarkKeys(win)));
    const close = closeButton(doc, () => remove("closed"));
    card.append(body, close);
    root.append(card);
    win.setTimeout(() => close.focus({ preventScroll: true }), 0);
  } else {
    return null;
  }
  win.addEventListener("keydown", onKey);
  doc.body.append(host);
  report("shown");
  return host;
}
