// One sentence for a failed API call, in the console's language. The engine's
// own message (marketer-facing, English) is shown as text after ours.
export function describeError(t, error) {
  if (!error || error.status === 0) return t("error.network");
  if (error.status === 503) return t("error.storage");
  return t("error.generic", { message: error.message || String(error) });
}
