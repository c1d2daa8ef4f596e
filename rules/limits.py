"""The limits of a rule file, defined once; ``docs/rules.md`` lists each with its outcome.

Every limit is checked where the thing it bounds is read, and going over it is an
ordinary rule-file error (a ``Problem`` with position and hint), never a crash:

- ``MAX_FILE_BYTES``: "file too large" at 1:1, before anything is parsed.
- ``MAX_RULES``: "too many rules" at the ``rules:`` list.
- ``MAX_YAML_DEPTH``: lists and mappings nested deeper are refused while the YAML
  is composed, at the list or mapping that goes over (``rules.source``).
- ``MAX_NESTING``: parentheses, ``not``, function calls and lists nested deeper in
  one condition are refused by the parser, at the token that goes over
  (``rules.parse``). It bounds every recursive walk of a condition's tree.
- ``MAX_SEGMENT_DEPTH``: a segment naming a segment naming a segment... deeper is
  refused at the name that goes over (``rules.compile``). With ``MAX_NESTING`` it
  bounds the depth of a rule's lowered condition.
- ``MAX_PROGRAM_STEPS``: the steps of all the file's compiled conditions, segments
  inlined (a segment is copied into every condition that names it). Without
  segments, 8 MiB of conditions cannot reach it (every step takes at least two
  characters); segments that name segments several times each can, and are
  refused at the rule that goes over.

Rule files are a few levels deep; these bounds keep every walk of a file far
from Python's recursion limit.
"""

from __future__ import annotations

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_RULES = 20_000
MAX_YAML_DEPTH = 32
MAX_NESTING = 32
MAX_SEGMENT_DEPTH = 8
MAX_PROGRAM_STEPS = 4_000_000
