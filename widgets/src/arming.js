// When an armed action may render: pure checks over what the page reports,
// plus a small controller that listens to the page. Exit intent: on desktop the
// pointer leaves through the top edge; on mobile a fast scroll up; never right
// after a link click; only after a minimum dwell.
export const MIN_DWELL_MS = 3000;

export function scrollReached(percent, scrollTop, viewport, pageHeight) {
  if (!percent) return true;
  const scrollable = Math.max(1, pageHeight - viewport);
  return (scrollTop / scrollable) * 100 >= percent;
}

export function exitIntent({ kind, y, velocity, sinceLoad, sinceLinkClick }) {
  if (sinceLoad < MIN_DWELL_MS) return false;
  if (sinceLinkClick !== null && sinceLinkClick < 1000) return false;
  if (kind === "mouseout") return y <= 0;
  if (kind === "scroll") return velocity < -1.5; // px per ms, upwards
  return false;
}

export function idleFor(lastInput, now) {
  return now - lastInput;
}

export function armed(arming, state) {
  const a = arming || {};
  if (a.delay && state.sinceLoad < a.delay * 1000) return false;
  if (a.scroll && !state.scrolled) return false;
  if (a.idle && state.idle < a.idle * 1000) return false;
  if (a.exit_intent && !state.exited) return false;
  return true;
}

export function watch(win, arming, fire) {
  const doc = win.document;
  const start = Date.now();
  let lastInput = start;
  let lastLinkClick = null;
  let lastScroll = { top: win.scrollY, at: start };
  const state = { sinceLoad: 0, scrolled: false, idle: 0, exited: false };
  let done = false;
  const check = () => {
    if (done) return;
    const now = Date.now();
    state.sinceLoad = now - start;
    state.idle = idleFor(lastInput, now);
    state.scrolled = state.scrolled || scrollReached(arming.scroll, win.scrollY,
      win.innerHeight, doc.documentElement.scrollHeight);
    if (armed(arming, state)) {
      done = true;
      stop();
      fire();
    }
  };
  const input = () => { lastInput = Date.now(); check(); };
  const click = (e) => {
    if (e.target && e.target.closest && e.target.closest("a")) lastLinkClick = Date.now();
    input();
  };
  const out = (e) => {
    if (e.relatedTarget) return;
    const now = Date.now();
    state.exited = state.exited || exitIntent({ kind: "mouseout", y: e.clientY,
      sinceLoad: now - start, sinceLinkClick: lastLinkClick && now - lastLinkClick });
    check();
  };
  const scroll = () => {
    const now = Date.now();
    const velocity = (win.scrollY - lastScroll.top) / Math.max(1, now - lastScroll.at);
    lastScroll = { top: win.scrollY, at: now };
    state.exited = state.exited || exitIntent({ kind: "scroll", velocity,
      sinceLoad: now - start, sinceLinkClick: lastLinkClick && now - lastLinkClick });
    input();
  };
  const timer = win.setInterval(check, 250);
  doc.addEventListener("mouseout", out);
  doc.addEventListener("click", click, true);
  win.addEventListener("scroll", scroll, { passive: true });
  win.addEventListener("keydown", input);
  win.addEventListener("pointermove", input, { passive: true });
  function stop() {
    win.clearInterval(timer);
    doc.removeEventListener("mouseout", out);
    doc.removeEventListener("click", click, true);
    win.removeEventListener("scroll", scroll);
    win.removeEventListener("keydown", input);
    win.removeEventListener("pointermove", input);
  }
  win.setTimeout(check, 0);
  return stop;
}
