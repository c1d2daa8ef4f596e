// The validate API's problems as editor diagnostics: a problem's 1-based line
// and column (a real column in the file, inside the YAML scalar) become an
// offset range over the word it points at. Pure, on the document's text.

const WORD = /[^\s,:[\]{}()"'#]/;

// {from, to} in `text` for a problem at (line, column), both 1-based.
export function problemRange(text, line, column) {
  const lines = text.split("\n");
  const index = Math.min(Math.max(1, Number(line) || 1), lines.length) - 1;
  let start = 0;
  for (let i = 0; i < index; i += 1) start += lines[i].length + 1;
  const content = lines[index];
  const end = start + content.length;
  let from = start + Math.min(Math.max(0, (Number(column) || 1) - 1), content.length);
  let to = from;
  while (to < end && WORD.test(text[to])) to += 1;
  if (to === from) {
    if (from < end) {
      to = from + 1;
    } else if (from > start) {
      from = end - 1;
      to = end;
    }
  }
  return { from, to };
}

// Problems (errors and warnings of the API) -> diagnostics, errors first,
// each keeping its line, column and hint for the problems list.
export function toDiagnostics(text, problems) {
  return problems.map((problem) => {
    const { from, to } = problemRange(text, problem.line, problem.column);
    return {
      from, to,
      severity: problem.severity === "warning" ? "warning" : "error",
      message: problem.message,
      hint: problem.hint || "",
      line: problem.line,
      column: problem.column,
    };
  });
}

export function allProblems(result) {
  return [...(result.errors || []), ...(result.warnings || [])];
}
