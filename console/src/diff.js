// A diff of two versions as the versions view draws it: the engine's lines
// ({op: " " | "-" | "+", old, new, text}) with long unchanged stretches folded
// into one "n unchanged lines" row. Pure.

// -> [{kind: "line", op, old, new, text} | {kind: "skip", count}]
export function foldDiff(lines, context = 3) {
  const changed = lines.map((line) => line.op !== " ");
  const keep = lines.map((_, i) => {
    for (let j = Math.max(0, i - context); j <= Math.min(lines.length - 1, i + context); j += 1) {
      if (changed[j]) return true;
    }
    return false;
  });
  const out = [];
  let skipped = 0;
  lines.forEach((line, i) => {
    if (keep[i]) {
      if (skipped) out.push({ kind: "skip", count: skipped });
      skipped = 0;
      out.push({ kind: "line", op: line.op, old: line.old, new: line.new, text: line.text });
    } else {
      skipped += 1;
    }
  });
  if (skipped) out.push({ kind: "skip", count: skipped });
  return out;
}

export const OP_CLASS = { " ": "same", "-": "removed", "+": "added" };
