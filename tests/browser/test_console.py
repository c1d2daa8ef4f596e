"""The marketer's console (/admin/) in a real browser against a real engine:
sign-in, the overview and rule detail drawn from a scripted shopping journey,
the editor's in-place errors, push (served live to a connected visitor), a
draft's forecast over recorded traffic and its cancel, rollback, CSRF,
marketer HTML shown as text, an expired session keeping the draft, and no
console errors anywhere.

One engine (and one journey) serves the whole module; each test has its own
browser context, so its own cookie and storage."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, expect

from engine.delivery.policy import holdout_share
from engine.runtime.clock import ManualClock
from engine.runtime.config import Config
from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.store.redis_recording import stream_key
from engine.wire.protocol import LIMITS
from tests.browser.conftest import ADMIN_TOKEN, ARTIFACTS, shadow_texts
from tests.conftest import ORIGIN, Engine, run_engine, signed, site_config
from tests.engine.client import Visitor
from tests.engine.forecast.heavy import copy_recording_on, many_rules, wait_for, workers

pytestmark = pytest.mark.browser

CONSOLE_JS = Path(__file__).resolve().parents[2] / "engine" / "static" / "console" / "console.js"
SITE = "demo-shop"
SHOP = "https://shop.example.com"
XSS = "<img src=x onerror=alert(1)>"
RULE = "thanks"  # the measured rule: half its visitors are its control group
RULES = f"""site: {SITE}
timezone: Asia/Seoul
rules:
  - id: {RULE}
    if: visit_count >= 1
    do: {{ widget: push_note, title: 감사 쿠폰, body: 오늘만 10% 할인 }}
    holdout: "50%"
  - id: xss
    if: visit_count >= 1000
    do: {{ widget: popcorn_button, text: "{XSS}" }}
"""
TYPO = """  - id: welcome-back
    if: session_pageview >= 1
    do: { widget: popcorn_button, text: "다시 오셨네요" }
    priority: 50
"""


# --- the engine, its journey, the browser pages -------------------------------------

@pytest.fixture(scope="module")
def console_shop(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Engine]:
    """The engine of the module, with the console built and the rules above."""
    if not CONSOLE_JS.is_file():
        pytest.fail("engine/static/console/console.js is not built: "
                    "cd console && npm ci && npm run build")
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    path = tmp_path_factory.mktemp("console") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    port = free_port()
    limits = dataclasses.replace(LIMITS, connects_per_second=10_000, connect_burst=10_000,
                                 signin_attempts=10_000)
    config = Config(sites={SITE: site_config(
        path, origins=(ORIGIN, f"http://127.0.0.1:{port}"),
        admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())}, limits=limits)
    # The browser runs on real time; the clock only starts at "now".
    with run_engine(config, redis_server.url, port, ManualClock(time.time())) as engine:
        yield engine


def admin(shop: Engine, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """An admin API call with the bearer token, as the CLI makes it."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{shop.url}/v1/sites/{SITE}{path}", headers=headers,
                         timeout=30, **kwargs)


def push(shop: Engine, text: str, note: str = "") -> str:
    reply = admin(shop, "PUT", "/rules", params={"note": note}, content=text.encode())
    assert reply.status_code == 200, reply.text
    version: str = reply.json()["version"]
    return version


@dataclasses.dataclass
class Journey:
    treated: int
    control: int
    revenue: int  # won bought by the treated group


def _visit(shop: Engine, visitor: str) -> bool:
    """One page view through the widget's socket; the action reported shown."""
    v = Visitor(shop, visitor)
    v.page(f"{SHOP}/")
    for action in v.actions:
        v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
    v.close()
    return any(a["rule"] == RULE for a in v.actions)


@pytest.fixture(scope="module")
def journey(console_shop: Engine) -> Journey:
    """Shoppers visit; those shown the rule buy more often than its control
    group; the shop's server posts their orders, signed."""
    orders, groups, revenue = [], {"t": 0, "c": 0}, 0
    for n in range(60):
        visitor = f"shopper-{n:03}"
        shown = _visit(console_shop, visitor)
        assert shown == (holdout_share(visitor, RULE) >= 0.5)
        groups["t" if shown else "c"] += 1
        if n % 2 == 0 if shown else n % 10 == 0:
            amount = 30_000 + (n % 5) * 12_000
            revenue += amount if shown else 0
            orders.append({"type": "purchase", "order_id": f"order-{n}", "visitor_id": visitor,
                           "amount": amount})
    body = json.dumps({"events": orders}).encode()
    reply = httpx.post(f"{console_shop.url}/v1/sites/{SITE}/events", content=body,
                       headers=signed(body), timeout=30)
    assert reply.status_code == 200, reply.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the counters are written once a second
        stats = admin(console_shop, "GET", "/stats", params={"rule": RULE}).json()
        if stats["rules"][0]["revenue"] == revenue:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the stats never showed the journey's revenue: {stats}")
    return Journey(groups["t"], groups["c"], revenue)


# Answers the console expects and handles, which Chromium still logs as
# "Failed to load resource": not signed in yet, a wrong token, a file with errors.
EXPECTED = {(401, "/admin/session"), (422, f"/v1/sites/{SITE}/rules/validate"),
            (422, f"/v1/sites/{SITE}/rules")}


class ConsolePage:
    """A browser tab on the console that records every console error, every
    uncaught exception and every dialog (alert, confirm) it sees."""

    def __init__(self, context: BrowserContext, shop: Engine) -> None:
        self.context = context
        self.shop = shop
        self.page = context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.expected = set(EXPECTED)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = re.search(r"status of (\d+)", message.text)
        path = urlparse(message.location.get("url", "")).path
        if status and (int(status.group(1)), path) in self.expected:
            return
        self.problems.append(f"{message.text} ({message.location.get('url')})")

    def open(self, hash_: str = "", lang: str = "") -> None:
        query = f"?lang={lang}" if lang else ""
        self.page.goto(f"{self.shop.url}/admin/{query}{hash_}")

    def sign_in(self, token: str = ADMIN_TOKEN) -> None:
        self.page.get_by_label("사이트 ID").fill(SITE)
        self.page.get_by_label("관리자 토큰").fill(token)
        self.page.get_by_role("button", name="로그인").click()

    def signed_in(self, hash_: str = "#/overview") -> None:
        """Signed in through the API (the cookie lands in this context), then opened."""
        reply = self.page.request.post(f"{self.shop.url}/admin/session",
                                       data={"site": SITE, "token": ADMIN_TOKEN})
        assert reply.status == 200, reply.text()
        self.open(hash_)
        expect(self.page.get_by_role("button", name="로그아웃")).to_be_visible()

    def editor(self) -> Locator:
        return self.page.locator(".cm-content")

    def type_at_end(self, text: str) -> None:
        """Type ``text`` at the end of the loaded rule file."""
        editor = self.editor()
        expect(editor).to_contain_text("id: xss")
        editor.click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.insert_text(text)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        size = self.page.viewport_size or {"width": 0, "height": 0}
        name = f"console-{name}-{size['width']}x{size['height']}.png"
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def assert_clean(self) -> None:
        assert self.problems == []
        assert self.dialogs == []


@pytest.fixture
def tab(browser: Browser, console_shop: Engine) -> Iterator[ConsolePage]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ko-KR",
                                  timezone_id="Europe/Paris")  # not the site's: dates must not care
    yield ConsolePage(context, console_shop)
    context.close()


def won(amount: int) -> str:
    return f"{amount:,}원"


# --- the tests ---------------------------------------------------------------------

def test_sign_in_wrong_then_right_and_the_token_is_kept_nowhere(tab: ConsolePage) -> None:
    page = tab.page
    tab.open()
    expect(page.get_by_role("heading", name="관리자 로그인")).to_be_visible()
    tab.sign_in("not-the-token")
    expect(page.get_by_role("alert")).to_have_text("사이트 ID 또는 토큰이 올바르지 않습니다.")
    expect(page.get_by_label("관리자 토큰")).to_have_value("")
    # An unknown site gets the very same answer: nothing tells which sites exist.
    page.get_by_label("사이트 ID").fill("no-such-shop")
    page.get_by_label("관리자 토큰").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="로그인").click()
    expect(page.get_by_role("alert")).to_have_text("사이트 ID 또는 토큰이 올바르지 않습니다.")
    tab.sign_in()
    expect(page.get_by_text("사이트 demo-shop")).to_be_visible()
    expect(page.locator("table.rules tbody tr")).to_have_count(2)
    expect(page.locator(".live [data-live=connections] dd")).to_have_text(re.compile(r"^\d+$"))
    stored = page.evaluate(
        "JSON.stringify([{...localStorage}, {...sessionStorage}, location.href])")
    assert ADMIN_TOKEN not in stored
    (cookie,) = tab.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    # Signing out ends the session: reloading shows the sign-in form.
    page.get_by_role("button", name="로그아웃").click()
    expect(page.get_by_text("로그아웃했습니다.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="관리자 로그인")).to_be_visible()
    tab.assert_clean()


def test_too_many_sign_ins_get_the_rate_limit_message(browser: Browser, redis_server: EmbeddedRedis,
                                                      tmp_path: Path) -> None:
    port = free_port()
    config = Config(sites={SITE: site_config(
        origins=(ORIGIN, f"http://127.0.0.1:{port}"),
        admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())},
        limits=dataclasses.replace(LIMITS, signin_attempts=2))
    with run_engine(config, redis_server.url, port, ManualClock(time.time())) as strict:
        context = browser.new_context(locale="ko-KR")
        tab = ConsolePage(context, strict)
        tab.expected.add((429, "/admin/session"))
        tab.open()
        alert = tab.page.get_by_role("alert")
        for _ in range(3):
            with tab.page.expect_response(lambda r: r.url.endswith("/admin/session")
                                          and r.request.method == "POST") as answer:
                tab.sign_in("wrong")
            if answer.value.status == 429:
                break
        expect(alert).to_have_text(
            re.compile(r"로그인 시도가 너무 많습니다\. \d+초 후에 다시 시도하세요\."))
        tab.assert_clean()
        context.close()


def test_a_write_without_the_csrf_token_is_403(tab: ConsolePage) -> None:
    tab.signed_in()
    tab.expected.add((401, f"/v1/sites/{SITE}/live"))  # polled after the sign-out below
    request, url = tab.page.request, f"{tab.shop.url}/v1/sites/{SITE}/rules"
    refused = request.post(f"{url}/validate", data=RULES)
    assert refused.status == 403 and refused.json()["field"] == "csrf"
    refused = request.post(f"{url}/rollback", data={"version": "x"},
                           headers={"X-CSRF-Token": "forged"})
    assert refused.status == 403 and refused.json()["field"] == "csrf"
    csrf = request.get(f"{tab.shop.url}/admin/session").json()["csrf"]
    allowed = request.post(f"{url}/validate", data=RULES, headers={"X-CSRF-Token": csrf})
    assert allowed.status == 200 and allowed.json()["ok"] is True
    assert request.delete(f"{tab.shop.url}/admin/session").status == 403
    assert request.delete(f"{tab.shop.url}/admin/session",
                          headers={"X-CSRF-Token": csrf}).status == 204
    tab.assert_clean()


@pytest.mark.parametrize("viewport", [(1280, 800), (768, 1024)])
def test_overview_and_rule_detail_draw_the_journeys_figures(
        tab: ConsolePage, journey: Journey, viewport: tuple[int, int]) -> None:
    page = tab.page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    tab.signed_in()
    rows = page.locator("table.rules tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-rule", RULE)  # the most revenue first
    row = page.locator(f"tr[data-rule='{RULE}']")
    expect(row.locator("[data-figure=shown]")).to_have_text(str(journey.treated))
    expect(row.locator("[data-figure=revenue]")).to_have_text(won(journey.revenue))
    expect(row.locator("[data-figure=lift]")).to_contain_text("%p")
    expect(row.locator("[data-figure=lift] .interval")).to_have_text(re.compile(r"\(.+ ~ .+\)"))
    expect(row.locator(".spark-wrap canvas")).to_have_count(1)
    assert row.locator(".spark-wrap").get_attribute("data-values").endswith(f",{journey.treated}")
    expect(row.locator(".badge.state-on")).to_have_text("켜짐")
    page.wait_for_timeout(300)
    tab.shot("overview")

    row.get_by_role("link", name=f"{RULE} 상세 보기").click()
    expect(page.get_by_role("heading", name=f"규칙 {RULE}")).to_be_visible()
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(4)
    expect(charts.locator("canvas")).to_have_count(4)
    expect(page.locator("[data-chart=revenue] [role=img]")).to_have_attribute(
        "aria-label", re.compile(re.escape(won(journey.revenue))))
    (figures,) = admin(tab.shop, "GET", "/stats", params={"rule": RULE}).json()["rules"]
    not_shown = figures["not_shown"]
    held_out = page.locator(".reasons li[data-reason=held_out]")
    expect(held_out).to_contain_text("대조군으로 제외")
    expect(held_out.locator(".bar-value")).to_have_text(re.compile(rf"^{not_shown['held_out']} \("))
    expect(page.locator(".lift .period")).to_have_count(1)
    expect(page.locator(".lift .ci .ci-bar")).to_be_visible()
    expect(page.locator(".lift .groups")).to_contain_text(won(journey.revenue))
    page.wait_for_timeout(300)
    tab.shot("rule")
    tab.assert_clean()


def test_a_typo_is_underlined_with_its_hint_refused_then_fixed_pushed_and_served_live(
        tab: ConsolePage) -> None:
    page = tab.page
    tab.signed_in("#/editor")
    editor = tab.editor()
    expect(editor).to_contain_text("id: xss")
    expect(page.locator(".lint-status")).to_have_text("오류 없음")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text(TYPO)
    # Underlined on the line of the typo, listed with its line, column and hint.
    typo_line = page.locator(".cm-line", has_text="session_pageview >= 1")
    expect(typo_line.locator(".cm-lintRange-error")).to_have_text("session_pageview")
    line_number = RULES.count("\n") + 2
    problem = page.locator(".problems-list .problem.error")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text(f"{line_number}행 9열")
    expect(problem).to_contain_text("session_pageview")
    expect(problem.locator(".problem-hint")).to_have_text("힌트: did you mean 'session_pageviews'?")
    page.wait_for_timeout(200)
    tab.shot("editor-typo")

    # A push with the typo is refused, its error shown in place.
    before = admin(tab.shop, "GET", "/rules/active").headers["X-Ondo-Version"]
    page.get_by_label("변경 메모").fill("재방문 환영")
    page.get_by_role("button", name="게시").click()
    expect(page.get_by_text("오류가 있어 게시하지 않았습니다.", exact=False)).to_be_visible()
    expect(typo_line.locator(".cm-lintRange-error")).to_be_visible()
    assert admin(tab.shop, "GET", "/rules/active").headers["X-Ondo-Version"] == before

    # A storefront visitor is on the page, connected, while the marketer fixes and pushes.
    visitor = Visitor(tab.shop, "live-visitor")
    visitor.page(f"{SHOP}/")
    assert not any(a["rule"] == "welcome-back" for a in visitor.actions)
    problem.get_by_role("button").click()  # the cursor goes to the typo
    for _ in range(len("session_pageview")):
        page.keyboard.press("ArrowRight")
    page.keyboard.type("s")
    expect(page.locator(".lint-status")).to_have_text("오류 없음")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    page.get_by_role("button", name="게시").click()
    pushed = re.compile(r"버전 \w+을\(를\) 게시했습니다 \(규칙 3개\)")
    expect(page.get_by_text(pushed)).to_be_visible()
    active = admin(tab.shop, "GET", "/rules/active")
    assert "session_pageviews >= 1" in active.text
    versions = admin(tab.shop, "GET", "/rules/versions").json()["versions"]
    assert versions[0]["note"] == "재방문 환영" and versions[0]["active"]
    visitor.page(f"{SHOP}/product/1")
    (action,) = [a for a in visitor.actions if a["rule"] == "welcome-back"]
    assert action["content"]["text"] == "다시 오셨네요"
    visitor.close()
    # The pushed file is now the editor's base: no draft is left behind.
    assert page.evaluate("sessionStorage.length") == 0
    tab.assert_clean()


def test_marketer_html_shows_as_text_everywhere(tab: ConsolePage) -> None:
    push(tab.shop, RULES, note=XSS)
    page = tab.page
    tab.signed_in()
    expect(page.locator("tr[data-rule=xss] .rule-title")).to_have_text(XSS)

    page.get_by_role("button", name="버전").click()
    expect(page.locator("table.versions tbody tr").first.locator(".note")).to_have_text(XSS)

    page.get_by_role("button", name="규칙 편집").click()
    expect(tab.editor()).to_contain_text("id: xss")
    page.get_by_label("방문 횟수 (visit_count)").fill("1000")
    page.get_by_role("button", name="설명 실행").click()
    entry = page.locator(".explain-rule[data-rule=xss]")
    expect(entry.locator(".badge.yes")).to_have_text("일치")
    entry.get_by_role("button", name="xss 미리보기").click()
    host = page.locator(".stage ondo-widget[data-ondo-rule=xss]")
    expect(host).to_be_visible()
    assert XSS in shadow_texts(page)
    page.wait_for_timeout(400)  # the widget's pop-in
    tab.shot("editor-preview")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    tab.assert_clean()


def test_explain_shows_per_rule_why_and_previews_the_real_widget(tab: ConsolePage) -> None:
    page = tab.page
    tab.signed_in("#/editor")
    expect(tab.editor()).to_contain_text(f"id: {RULE}")
    page.get_by_label("방문 횟수 (visit_count)").fill("3")
    page.get_by_role("button", name="설명 실행").click()
    matched = page.locator(f".explain-rule[data-rule={RULE}]")
    expect(matched.locator(".badge.yes")).to_have_text("일치")
    expect(matched.locator(".predicates")).to_contain_text("visit_count >= 1")
    expect(matched.locator(".predicates")).to_contain_text("실제 값: 3")
    unmatched = page.locator(".explain-rule[data-rule=xss]")
    expect(unmatched.locator(".why")).to_have_text("이유: 조건이 거짓")
    # The preview is the storefront widget's own push note, in the stage.
    host = page.locator(f".stage ondo-widget[data-ondo-rule={RULE}]")
    expect(host).to_be_visible()
    texts = shadow_texts(page)
    assert "감사 쿠폰" in texts and "오늘만 10% 할인" in texts
    # A bad sample is named.
    tab.expected.add((422, f"/v1/sites/{SITE}/rules/explain"))
    page.get_by_label("JSON", exact=True).check()
    page.get_by_label("프로필 JSON").fill('{"visit_cnt": 3}')
    page.get_by_role("button", name="설명 실행").click()
    expect(page.locator(".explain .notice[role=alert]")).to_contain_text("visit_cnt")
    tab.assert_clean()


SALE = """  - id: summer-sale
    if: visit_count >= 1
    do: { widget: push_note, title: 여름 세일, body: 전 상품 20% 할인 }
    priority: 100
"""


def test_forecast_shows_what_the_draft_would_have_done_to_recorded_traffic(
        tab: ConsolePage) -> None:
    push(tab.shop, RULES, note="예측 기준")
    # Recorded traffic: the live rule is sent to its treated half.
    sent = [_visit(tab.shop, f"forecast-{n:02}") for n in range(12)]
    assert any(sent)
    page = tab.page
    tab.signed_in("#/editor")
    tab.type_at_end(SALE)  # the same widget kind as the live rule, above it
    # The compiler warns that it shadows the live rule; the forecast says by how much.
    expect(page.locator(".lint-status")).to_have_text("오류 0개 · 경고 1개")
    button = page.get_by_role("button", name="예측", exact=True)
    button.click()
    panel = page.locator("section.forecast")
    sale = panel.locator("tr[data-rule=summer-sale]")
    # The first forecast starts the worker's process: give it time.
    expect(sale).to_be_visible(timeout=30_000)
    expect(sale.locator(".badge.new")).to_have_text("신규")
    expect(sale.locator("[data-figure=shown]")).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(panel.locator(f"tr[data-rule={RULE}] .badge.new")).to_have_count(0)
    expect(panel.locator(f"tr[data-rule={RULE}] [data-lost-to=summer-sale]")).to_contain_text(
        "summer-sale에 밀림")
    expect(panel.locator(".forecast-summary")).to_contain_text("이벤트")
    expect(panel.locator(".buyers-note")).to_contain_text("not a causal estimate")
    taken = panel.locator(f".forecast-taken li[data-rule={RULE}]")
    expect(taken.locator(".taken-by")).to_have_text(
        re.compile(r"^summer-sale이\(가\) 가져감: [1-9][\d,]*$"))
    expect(button).to_be_enabled()
    # The console shows the API's answer for the same draft, figure for figure.
    answer = admin(tab.shop, "POST", "/rules/forecast", params={"since": "24h"},
                   content=(RULES + SALE).encode()).json()
    figures = {r["rule"]: r for r in answer["rules"]}
    for rule in ("summer-sale", RULE):
        row = panel.locator(f"tr[data-rule={rule}]")
        for figure in ("shown", "shown_visitors", "matched_visitors"):
            expect(row.locator(f"[data-figure={figure}]")).to_have_text(
                f"{figures[rule][figure]:,}")
    tab.shot("editor-forecast")
    # An edit after the forecast says the figures are of an older draft.
    page.keyboard.insert_text("# 바뀐 초안\n")
    expect(panel.get_by_text("예측한 뒤 초안이 바뀌었습니다.", exact=False)).to_be_visible()
    tab.assert_clean()


def test_a_running_forecast_can_be_cancelled_and_the_site_can_forecast_again(
        tab: ConsolePage, redis_server: EmbeddedRedis) -> None:
    push(tab.shop, RULES, note="예측 취소 기준")
    for n in range(6):
        _visit(tab.shop, f"cancel-{n:02}")
    # The recording copied up to 20,000 entries: a draft of 1,000 rules that all
    # match takes seconds over it. The copies go again at the end.
    client = redis.Redis.from_url(redis_server.url)
    stream = stream_key(SITE)
    (last, _), = client.xrevrange(stream, count=1)
    copy_recording_on(redis_server.url, 20_000, SITE)
    forecasts = tab.shop.app.state.services.forecasts
    try:
        page = tab.page
        tab.signed_in("#/editor")
        expect(tab.editor()).to_contain_text("id: xss")
        tab.editor().click()
        page.keyboard.press("Control+A")
        # Pasted over the whole file, as a marketer pastes one (typing 150 KB
        # into the page would take minutes).
        tab.editor().evaluate("""(node, text) => {
          const data = new DataTransfer();
          data.setData("text/plain", text);
          node.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true,
                                                           cancelable: true }));
        }""", many_rules(1_000, SITE))
        expect(tab.editor()).to_contain_text("id: heavy-999")
        expect(page.locator(".lint-status")).to_have_text(re.compile("^오류 0개"), timeout=30_000)
        button = page.get_by_role("button", name="예측", exact=True)
        button.click()
        cancel = page.get_by_role("button", name="예측 취소")
        expect(cancel).to_be_visible()
        # The engine compiled the draft and its worker replays it.
        wait_for(lambda: forecasts.running.get(SITE) == 1 and bool(workers()), 30)
        cancel.click()
        panel = page.locator("section.forecast")
        expect(panel.get_by_text("예측을 취소했습니다.", exact=False)).to_be_visible()
        expect(cancel).to_be_hidden()
        expect(button).to_be_enabled()
        # The engine stopped it: no worker left, the site's slot free for the next.
        wait_for(lambda: forecasts.running.get(SITE) == 0 and not workers(), 1.0)
        answer = admin(tab.shop, "POST", "/rules/forecast", params={"since": "1h"},
                       content=RULES.encode())
        assert answer.status_code == 200, answer.text
        tab.shot("editor-forecast-cancelled")
        tab.assert_clean()
    finally:
        copies = [entry for entry, _ in client.xrange(stream, min=f"({last.decode()}")]
        for start in range(0, len(copies), 5_000):
            client.xdel(stream, *copies[start:start + 5_000])
        client.close()


def test_rollback_asks_first_then_switches_the_active_version(tab: ConsolePage) -> None:
    old = push(tab.shop, RULES + "# 첫 버전\n", note="첫 버전")
    new = push(tab.shop, RULES.replace("오늘만 10% 할인", "오늘만 20% 할인"), note="할인 20%")
    page = tab.page
    tab.signed_in("#/versions")
    rows = page.locator("table.versions tbody tr")
    expect(rows.first).to_have_attribute("data-version", new)
    expect(rows.first.locator(".badge")).to_have_text("활성")
    # The diff between the two newest versions is shown at once.
    expect(page.locator(".diff-table tr.removed", has_text="오늘만 10% 할인")).to_have_count(1)
    expect(page.locator(".diff-table tr.removed", has_text="# 첫 버전")).to_have_count(1)
    expect(page.locator(".diff-table tr.added")).to_have_text(re.compile("오늘만 20% 할인"))
    expect(page.locator(".diff-summary")).to_have_text("추가 1줄 · 삭제 2줄")
    old_row = page.locator(f"tr[data-version='{old}']")
    old_row.get_by_role("button", name="되돌리기").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("이 버전으로 되돌릴까요?")
    expect(dialog.get_by_role("button", name="취소")).to_be_focused()
    dialog.get_by_role("button", name="취소").click()
    expect(dialog).to_have_count(0)
    assert admin(tab.shop, "GET", "/rules/active").headers["X-Ondo-Version"] == new
    old_row.get_by_role("button", name="되돌리기").click()
    tab.shot("versions-confirm")
    page.get_by_role("dialog").get_by_role("button", name="되돌리기").click()
    expect(page.get_by_text(f"버전 {old[:8]}(으)로 되돌렸습니다.")).to_be_visible()
    expect(page.locator(f"tr[data-version='{old}'] .badge")).to_have_text("활성")
    assert admin(tab.shop, "GET", "/rules/active").headers["X-Ondo-Version"] == old
    tab.shot("versions")
    tab.assert_clean()


def test_an_expired_session_returns_to_sign_in_and_keeps_the_draft(tab: ConsolePage) -> None:
    page = tab.page
    tab.signed_in("#/editor")
    tab.type_at_end("# 저장 전 초안\n")
    page.wait_for_timeout(600)
    # The session ends elsewhere (signed out from another browser).
    csrf = page.request.get(f"{tab.shop.url}/admin/session").json()["csrf"]
    cookies = {c["name"]: c["value"] for c in tab.context.cookies()}
    ended = httpx.delete(f"{tab.shop.url}/admin/session", cookies=cookies,
                         headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    tab.expected |= {(401, f"/v1/sites/{SITE}/rules/validate"), (401, f"/v1/sites/{SITE}/live")}
    page.keyboard.insert_text("# 하나 더\n")  # the next check finds the session gone
    expect(page.get_by_role("heading", name="관리자 로그인")).to_be_visible()
    expect(page.get_by_text("세션이 만료되었습니다.", exact=False)).to_be_visible()
    stored = page.evaluate("JSON.stringify({...sessionStorage})")
    assert "저장 전 초안" in stored and ADMIN_TOKEN not in stored
    tab.sign_in()
    expect(page.get_by_text("저장하지 않은 초안을 복원했습니다.")).to_be_visible()
    expect(tab.editor()).to_contain_text("# 저장 전 초안")
    expect(tab.editor()).to_contain_text("# 하나 더")
    tab.assert_clean()


def test_english_with_lang_en(tab: ConsolePage) -> None:
    page = tab.page
    tab.open(lang="en")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Site ID").fill(SITE)
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Overview")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("columnheader", name="Revenue")).to_be_visible()
    page.get_by_role("button", name="Versions").click()
    expect(page.get_by_role("heading", name="Versions", exact=True)).to_be_visible()
    tab.assert_clean()
