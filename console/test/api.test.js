import test from "node:test";
import assert from "node:assert/strict";
import { ApiError, createApi } from "../src/api.js";

// A fetch that records each call and answers from a list of replies.
function fakeFetch(replies) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, ...init });
    const [status, body, headers = {}] = replies.shift() || [200, {}];
    const type = typeof body === "string" ? "application/yaml" : "application/json";
    const all = new Map(Object.entries({ "content-type": type, ...headers }).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      ok: status >= 200 && status < 300, status,
      headers: { get: (name) => all.get(name.toLowerCase()) ?? null },
      json: async () => body, text: async () => body,
    };
  };
  return { fetchImpl, calls };
}

const SESSION = { site: "demo-shop", csrf: "csrf-123", expires: 2_000_000_000, timezone: "Asia/Seoul" };

test("sign-in posts JSON; the token goes in the body, never in the URL", async () => {
  const { fetchImpl, calls } = fakeFetch([[200, SESSION]]);
  const api = createApi({ fetchImpl });
  assert.deepEqual(await api.signIn("demo-shop", "secret-token"), SESSION);
  assert.equal(calls[0].url, "/admin/session");
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].body), { site: "demo-shop", token: "secret-token" });
  assert.equal(calls[0].credentials, "same-origin");
  assert.equal(api.session.csrf, "csrf-123");
});

test("every call that writes carries the CSRF token; reads do not need it", async () => {
  const { fetchImpl, calls } = fakeFetch([[200, SESSION], [200, { rules: [] }], [200, { ok: true, errors: [], warnings: [] }],
    [200, { version: "v2" }], [200, { version: "v1" }], [200, { rules: [] }], [204, ""]]);
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  await api.states();
  await api.validate("site: demo-shop\n");
  await api.push("site: demo-shop\n", "새 쿠폰 & more");
  await api.rollback("v1");
  await api.explain({ profile: {} });
  await api.signOut();
  const [, states, validate, push, rollback, explain, signOut] = calls;
  assert.equal(states.method, "GET");
  assert.equal(states.url, "/v1/sites/demo-shop/rules/states");
  assert.equal(states.headers["X-CSRF-Token"], undefined);
  for (const call of [validate, push, rollback, explain, signOut]) {
    assert.equal(call.headers["X-CSRF-Token"], "csrf-123", `${call.method} ${call.url}`);
  }
  assert.equal(validate.body, "site: demo-shop\n");
  assert.match(validate.headers["Content-Type"], /yaml/);
  assert.equal(push.method, "PUT");
  assert.equal(push.url, "/v1/sites/demo-shop/rules?note=%EC%83%88+%EC%BF%A0%ED%8F%B0+%26+more");
  assert.equal(signOut.method, "DELETE");
  assert.equal(signOut.url, "/admin/session");
  assert.equal(api.session, null);
});

test("a 401 on any admin call is an expired session: onExpired is told, the session dropped", async () => {
  const expired = [];
  const { fetchImpl } = fakeFetch([[200, SESSION], [401, { error: "session expired", field: "session" }]]);
  const api = createApi({ fetchImpl, onExpired: (e) => expired.push(e) });
  await api.signIn("demo-shop", "t");
  await assert.rejects(api.versions(), (e) => e instanceof ApiError && e.status === 401 && e.field === "session");
  assert.equal(expired.length, 1);
  assert.equal(api.session, null);
});

test("a wrong token or a rate limit at sign-in is an answer, not an expiry", async () => {
  const expired = [];
  const { fetchImpl } = fakeFetch([[401, { error: "wrong", field: "token" }],
    [429, { error: "slow down", field: "token", retry_after: 42 }]]);
  const api = createApi({ fetchImpl, onExpired: (e) => expired.push(e) });
  await assert.rejects(api.signIn("demo-shop", "nope"), (e) => e.status === 401 && e.field === "token");
  await assert.rejects(api.signIn("demo-shop", "nope"), (e) => e.status === 429 && e.body.retry_after === 42);
  assert.equal(expired.length, 0);
});

test("resume reads the cookie's session, or null", async () => {
  const { fetchImpl } = fakeFetch([[401, { field: "session" }], [200, SESSION]]);
  const api = createApi({ fetchImpl, onExpired: () => assert.fail("not an expiry") });
  assert.equal(await api.resume(), null);
  assert.deepEqual(await api.resume(), SESSION);
});

test("validate and push return 422 bodies as answers; the active file comes with its version", async () => {
  const problems = { ok: false, errors: [{ line: 3, column: 9, message: "unknown attribute", hint: "did you mean visit_count?",
    severity: "error" }], warnings: [] };
  const { fetchImpl } = fakeFetch([[200, SESSION], [422, problems], [422, { error: "the rule file has errors", field: "body", ...problems }],
    [200, "site: demo-shop\n", { "X-Ondo-Version": "abc123" }], [404, { error: "none", field: "version" }]]);
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  assert.deepEqual(await api.validate("x"), problems);
  const pushed = await api.push("x", "");
  assert.equal(pushed.status, 422);
  assert.equal(pushed.data.errors[0].hint, "did you mean visit_count?");
  assert.deepEqual(await api.active(), { text: "site: demo-shop\n", version: "abc123" });
  assert.equal(await api.active(), null);
});

test("other failures are ApiErrors naming the field; a network failure has status 0", async () => {
  const { fetchImpl } = fakeFetch([[200, SESSION], [403, { error: "csrf", field: "csrf" }]]);
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  await assert.rejects(api.rollback("v1"), (e) => e.status === 403 && e.field === "csrf");
  const offline = createApi({ fetchImpl: async () => { throw new TypeError("Failed to fetch"); } });
  await assert.rejects(offline.resume(), (e) => e.status === 0);
});

test("stats and diff pass their query; ids are escaped in paths", async () => {
  const { fetchImpl, calls } = fakeFetch([[200, { ...SESSION, site: "my shop" }], [200, { rules: [] }], [200, { lines: [] }], [200, "x"]]);
  const api = createApi({ fetchImpl });
  await api.signIn("my shop", "t");
  await api.stats("2026-11-01", "2026-11-14", "loyal-coupon");
  await api.diff("v1", "v2");
  await api.version("a/b");
  assert.equal(calls[1].url, "/v1/sites/my%20shop/stats?from=2026-11-01&to=2026-11-14&rule=loyal-coupon");
  assert.equal(calls[2].url, "/v1/sites/my%20shop/rules/diff?from=v1&to=v2");
  assert.equal(calls[3].url, "/v1/sites/my%20shop/rules/versions/a%2Fb");
});

test("a 422 without the file's problems (a file past the engine's limits) is a failure, not an answer", async () => {
  const tooSlow = { error: "the rule file took more than 60 s to process", field: "body", limit: "job_seconds" };
  const { fetchImpl } = fakeFetch([[200, SESSION], [422, tooSlow], [422, tooSlow]]);
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  await assert.rejects(api.validate("x"), (e) => e.status === 422 && e.body.limit === "job_seconds");
  await assert.rejects(api.push("x", ""), (e) => e.status === 422 && e.body.limit === "job_seconds");
});
