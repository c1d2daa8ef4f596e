// One sentence for a failed API call, in the console's language. The engine's
// own message (marketer-facing, English) is shown as text after ours. The
// limits on heavy work (checking, uploading, explaining a rule file, reading a
// product feed) each have their own sentence: a marketer can act on them.
export function describeError(t, error) {
  if (!error || error.status === 0) return t("error.network");
  const message = error.message || String(error);
  const limit = error.body && error.body.limit;
  if (error.status === 429 && error.field === "site") return t("error.busy", { message });
  if (limit === "job_seconds") return t("error.tooSlow", { message });
  if (limit === "job_memory") return t("error.tooLarge", { message });
  if (error.status === 503 && error.field === "worker") return t("error.worker");
  if (error.status === 503) return t("error.storage");
  return t("error.generic", { message });
}
