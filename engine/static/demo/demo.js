// The demo storefront's own script: the ondo() queue stub (so calls made
// before widget.js loads are kept), a cart in localStorage, login and checkout.
window.ondo = window.ondo || function () { (window.ondo.q = window.ondo.q || []).push(arguments); };

const PRODUCTS = [
  { id: "1001", name: "여름 린넨 셔츠", price: 39000, category: "tops" },
  { id: "1002", name: "데님 와이드 팬츠", price: 52000, category: "bottoms" },
  { id: "1003", name: "캔버스 토트백", price: 28000, category: "bags" },
  { id: "1004", name: "가죽 미니 크로스백", price: 89000, category: "bags" },
  { id: "1005", name: "코튼 반팔 티셔츠", price: 19000, category: "tops" },
  { id: "1006", name: "스트라이프 원피스", price: 64000, category: "dresses" },
];
const won = (n) => `${n.toLocaleString("ko-KR")}원`;
const cart = () => JSON.parse(localStorage.getItem("demo.cart") || "[]");
const saveCart = (items) => {
  localStorage.setItem("demo.cart", JSON.stringify(items));
  ondo("cart", items.map((i) => ({ product_id: i.id, qty: i.qty, price: i.price })));
};
const el = (tag, text, cls) => { const n = document.createElement(tag); if (text) n.textContent = text; if (cls) n.className = cls; return n; };

function tile(p) {
  const t = el("div", null, "tile");
  const a = el("a");
  a.href = `/demo/product.html?id=${p.id}`;
  a.append(el("div", null, "swatch"), el("div", p.name), el("div", won(p.price), "price"));
  t.append(a);
  return t;
}

const page = document.body.dataset.page;
const params = new URLSearchParams(location.search);
if (page === "home") {
  ondo("page", { type: "home" });
  document.getElementById("grid").append(...PRODUCTS.map(tile));
} else if (page === "category") {
  const category = params.get("c") || "tops";
  ondo("page", { type: "category", category });
  document.getElementById("title").textContent = `카테고리: ${category}`;
  document.getElementById("grid").append(...PRODUCTS.filter((p) => p.category === category).map(tile));
} else if (page === "product") {
  const p = PRODUCTS.find((x) => x.id === params.get("id")) || PRODUCTS[0];
  ondo("page", { type: "product", product_id: p.id, category: p.category });
  document.getElementById("name").textContent = p.name;
  document.getElementById("price").textContent = won(p.price);
  document.getElementById("add").addEventListener("click", () => {
    const items = cart();
    const line = items.find((i) => i.id === p.id);
    if (line) line.qty += 1; else items.push({ id: p.id, name: p.name, price: p.price, qty: 1 });
    saveCart(items);
    document.getElementById("added").textContent = "장바구니에 담았어요";
  });
} else if (page === "cart") {
  ondo("page", { type: "cart" });
  const body = document.getElementById("lines");
  const draw = () => {
    body.replaceChildren();
    let total = 0;
    for (const item of cart()) {
      total += item.price * item.qty;
      const row = el("tr");
      const remove = el("button", "삭제");
      remove.addEventListener("click", () => { saveCart(cart().filter((i) => i.id !== item.id)); draw(); });
      const cell = el("td");
      cell.append(remove);
      row.append(el("td", item.name), el("td", String(item.qty)), el("td", won(item.price * item.qty)), cell);
      body.append(row);
    }
    document.getElementById("total").textContent = won(total);
  };
  draw();
} else if (page === "login") {
  ondo("page", { type: "member" });
  document.getElementById("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    const member = document.getElementById("member").value || "demo-member";
    const reply = await fetch("/demo/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ member_id: member }) });
    const identity = await reply.json();
    localStorage.setItem("demo.member", JSON.stringify(identity));
    ondo("identify", identity);
    document.getElementById("status").textContent = `${member} 님으로 로그인했어요`;
  });
} else if (page === "checkout") {
  ondo("page", { type: "checkout" });
  document.getElementById("pay").addEventListener("click", async () => {
    const items = cart();
    const member = JSON.parse(localStorage.getItem("demo.member") || "null");
    const reply = await fetch("/demo/checkout", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ visitor_id: localStorage.getItem("ondo_vid"), member_id: member && member.member_id,
        items: items.map((i) => ({ product_id: i.id, qty: i.qty, price: i.price })) }) });
    const order = await reply.json();
    saveCart([]);
    document.getElementById("status").textContent = `주문 완료: ${order.order_id} (${won(order.amount || 0)})`;
  });
}
const member = JSON.parse(localStorage.getItem("demo.member") || "null");
if (member) ondo("identify", member);
