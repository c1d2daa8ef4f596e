// The engine's admin API as the console uses it: same origin, the session
// cookie sent by the browser, the CSRF token on every call that writes. The
// admin token only passes through signIn() and is never kept here.
// `fetchImpl` is injected so the CSRF and session handling is unit-tested.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.field = this.body.field || "";
  }
}

const SAFE = new Set(["GET", "HEAD"]);

// A 422 that lists a rule file's problems is the compiler's answer; any other
// 422 (the file took longer than the engine allows to check) is a failure.
function problems(reply) {
  if (reply.status === 422 && !Array.isArray(reply.data && reply.data.errors)) {
    throw new ApiError(422, reply.data);
  }
  return reply;
}

export function createApi({ fetchImpl, onExpired = () => {} }) {
  let session = null; // { site, csrf, expires, timezone }

  async function send(method, path, { json, text, query, expect = [], signal } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (text !== undefined) {
      headers["Content-Type"] = "application/yaml; charset=utf-8";
      body = text;
    }
    if (!SAFE.has(method) && session) headers["X-CSRF-Token"] = session.csrf;
    let url = path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, v);
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    let reply;
    try {
      reply = await fetchImpl(url, { method, headers, body, credentials: "same-origin", signal });
    } catch (cause) {
      const error = new ApiError(0, { error: String(cause && cause.message || cause), field: "network" });
      throw error;
    }
    const type = reply.headers.get("content-type") || "";
    const data = type.includes("json") ? await reply.json().catch(() => ({})) : await reply.text();
    if (reply.ok || expect.includes(reply.status)) {
      return { status: reply.status, data, headers: reply.headers };
    }
    const error = new ApiError(reply.status, typeof data === "object" ? data : { error: data });
    if (reply.status === 401 && path !== "/admin/session") {
      session = null;
      onExpired(error);
    }
    throw error;
  }

  const rules = (suffix = "") => `/v1/sites/${encodeURIComponent(session.site)}/rules${suffix}`;

  return {
    get session() { return session; },

    // Resumes a session the cookie still holds; null when there is none.
    async resume() {
      try {
        const { data } = await send("GET", "/admin/session");
        session = data;
        return data;
      } catch (error) {
        if (error.status === 401) return null;
        throw error;
      }
    },

    async signIn(site, token) {
      const { data } = await send("POST", "/admin/session", { json: { site, token } });
      session = data;
      return data;
    },

    async signOut() {
      try {
        if (session) await send("DELETE", "/admin/session", { expect: [401] });
      } finally {
        session = null;
      }
    },

    async states() { return (await send("GET", rules("/states"))).data; },

    // The active file's text and version; null when nothing was pushed yet.
    async active() {
      const reply = await send("GET", rules("/active"), { expect: [404] });
      if (reply.status === 404) return null;
      return { text: reply.data, version: reply.headers.get("X-Ondo-Version") || "" };
    },

    // {ok, errors, warnings}: a 422 with the file's problems is an answer here,
    // not a failure (a 422 without them, a file past a limit, throws).
    async validate(text) {
      return problems(await send("POST", rules("/validate"), { text, expect: [422] })).data;
    },

    // {status: 200, data: {version, rules, new, unchanged, errors, warnings}} or
    // {status: 422, data: {error, field, errors, warnings}}.
    async push(text, note) {
      return problems(await send("PUT", rules(), { text, query: { note }, expect: [422] }));
    },

    // What the draft would have done to the traffic recorded since `since`
    // ("24h", "7d", a date or time in the site's time zone, epoch seconds):
    // {status: 200, data: the forecast} or {status: 422, data: {error, field,
    // errors?, warnings?}}: field "body", the draft's problems; "since", the
    // window (what is recorded is in the error). Other failures throw.
    // Aborting `signal` cancels it: the connection closes, and the engine
    // stops the forecast and frees the site's slot.
    async forecast(text, since, until, signal) {
      return send("POST", rules("/forecast"), { text, query: { since, until }, expect: [422], signal });
    },

    async explain(request) { return (await send("POST", rules("/explain"), { json: request })).data; },
    async versions() { return (await send("GET", rules("/versions"))).data.versions; },
    async version(version) {
      return (await send("GET", rules(`/versions/${encodeURIComponent(version)}`))).data;
    },
    async diff(from, to) { return (await send("GET", rules("/diff"), { query: { from, to } })).data; },
    async rollback(version) { return (await send("POST", rules("/rollback"), { json: { version } })).data; },
    async stats(from, to, rule) {
      const path = `/v1/sites/${encodeURIComponent(session.site)}/stats`;
      return (await send("GET", path, { query: { from, to, rule } })).data;
    },
    async live() {
      return (await send("GET", `/v1/sites/${encodeURIComponent(session.site)}/live`)).data;
    },
  };
}
