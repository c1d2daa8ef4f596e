import test from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../src/api.js";
import { describeError } from "../src/errors.js";
import { translator } from "../src/messages.js";

const t = translator("ko");

test("each limit on heavy work gets a sentence the marketer can act on", () => {
  const said = (status, body) => describeError(t, new ApiError(status, body));
  assert.match(said(429, { error: "2 heavy requests", field: "site", limit: "jobs_per_site" }), /이미 진행 중/);
  assert.match(said(422, { error: "took more than 60 s", field: "body", limit: "job_seconds" }), /시간 안에/);
  assert.match(said(413, { error: "more than 1,024 MiB", field: "body", limit: "job_memory" }), /메모리/);
  assert.match(said(503, { error: "the worker stopped", field: "worker" }), /예기치 않게/);
  assert.match(said(503, { error: "storage unavailable", field: "storage" }), /저장소/);
  assert.match(said(400, { error: "odd", field: "x" }), /odd/);
  assert.match(describeError(t, new ApiError(0, { error: "offline" })), /연결할 수 없습니다/);
});
