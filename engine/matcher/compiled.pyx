# cython: language_level=3
"""The Cython matcher: a Ruleset laid out once in typed arrays, evaluated per event.

Same contract as the reference evaluator ``rules.evaluate`` (the specification):
``Matcher(ruleset).match(profile, trigger)`` returns the ids of the matching
rules, highest priority first, and raises the same ``ProfileError`` /
``UnknownTriggerError`` for the same bad input.

Per event:

1. *State step* (with the GIL): every attribute the ruleset reads is fetched
   and type-checked in catalogue order, numbers and booleans go into a double
   array, strings become the id of the matching constant (interned at build
   time; -1 for a value no rule mentions). Predicates that need Python objects
   (globs, substrings, set membership, coupons, query parameters) are
   evaluated here, once per distinct predicate.
2. *Hot loop* (``nogil``, no Python objects): candidate rules come from an index
   on one required conjunct of each rule (string equality buckets, boolean
   buckets, sorted numeric thresholds; rules with no indexable conjunct are
   always candidates); candidates are visited in priority order and their
   postfix programs run over a lazily filled tri-state predicate cache, so
   each predicate is evaluated at most once and only if some candidate needs it.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isfinite
from libc.string cimport memset

from array import array

from rules.catalogue import CATALOGUE, Kind, Unit
from rules.errors import UnknownTriggerError
from rules.evaluate import check_value, predicate_value
from rules.glob import compile_glob, glob_shape
from rules.ruleset import TRIGGERS, Code, Op

cdef enum:
    # slot kinds
    K_NUM = 0
    K_BOOL = 1
    K_STR = 2
    K_OBJ = 3   # string sets, coupons, params: read by Python-side predicates
    # predicate kinds
    P_PRE = 0   # evaluated in the state step
    P_NUM = 1
    P_STR = 2
    P_EXISTS = 3
    # Python-side predicate evaluators
    X_REGEX = 0
    X_STARTS = 1      # also globs of the form "literal*"
    X_CONTAINS = 2    # substring, set membership, globs "*literal*"
    X_GENERIC = 3     # query parameters: the reference's own code
    X_EQUAL = 4       # globs without wildcards
    X_ENDS = 5        # globs "*literal"
    X_HAS_COUPON = 6
    X_EXPIRES = 7
    # what an object slot holds
    O_NONE = 0
    O_SET = 1
    O_COUPONS = 2
    O_PARAMS = 3
    # program opcodes (rules.ruleset.Code)
    AND = -1
    OR = -2
    NOT = -3
    TRUE = -4
    FALSE = -5

IMPLEMENTATION = "cython"


cdef inline bint _num_test(int op, double v, double a, double b, const double* lst,
                           int off, int n) noexcept nogil:
    cdef int i
    if op == 1:
        return v == a
    if op == 2:
        return v != a
    if op == 3:
        return v < a
    if op == 4:
        return v <= a
    if op == 5:
        return v > a
    if op == 6:
        return v >= a
    if op == 7:
        return a <= v and v <= b
    if op == 8 or op == 9:
        for i in range(off, off + n):
            if lst[i] == v:
                return op == 8
        return op == 9
    return False


cdef class _Index:
    """One trigger's rules in priority order and their candidate index
    (fields declared in matcher.pxd)."""


cdef class Matcher:
    """A Ruleset laid out for matching (fields declared in matcher.pxd)."""

    def __cinit__(self):
        self._values = NULL
        self._present = NULL
        self._ids = NULL
        self._cache = NULL
        self._bits = NULL
        self._out = NULL
        self._stack = NULL

    def __init__(self, ruleset):
        self.ruleset = ruleset
        attrs = list(ruleset.attributes)
        self._names = attrs
        self._nslots = len(attrs)
        slot_of = {name: i for i, name in enumerate(attrs)}
        kinds = []
        for name in attrs:
            kind = CATALOGUE[name].kind
            kinds.append(K_NUM if kind is Kind.NUMBER else K_BOOL if kind is Kind.BOOL
                         else K_STR if kind is Kind.STRING else K_OBJ)
        self._slot_kind = array("i", kinds)
        self._objects = [None] * len(attrs)
        self._now_slot = slot_of.get("now", -1)
        self._obj_kind = array("i", [
            O_SET if CATALOGUE[n].kind is Kind.STRING_SET else
            O_COUPONS if CATALOGUE[n].kind is Kind.COUPONS else
            O_PARAMS if CATALOGUE[n].kind is Kind.PARAMS else O_NONE for n in attrs] or [0])
        self._build_predicates(ruleset, slot_of, kinds)
        self._build_programs(ruleset)
        self._indexes = {t: self._build_index(ruleset, t) for t in TRIGGERS}
        self._alloc()

    # -- layout -------------------------------------------------------------------

    def _build_predicates(self, ruleset, dict slot_of, list kinds):
        tables = [None] * len(kinds)
        for i, k in enumerate(kinds):
            if k == K_STR:
                tables[i] = {}
        p_kind, p_op, p_slot, p_a, p_b, p_off, p_len = [], [], [], [], [], [], []
        num_pool, id_pool, pre = [], [], []
        for index, pred in enumerate(ruleset.predicates):
            slot = slot_of[pred.attribute]
            skind = kinds[slot]
            op = pred.op
            kind, a, b, off, n = P_PRE, 0.0, 0.0, 0, 0
            if pred.key is None and op is Op.EXISTS:
                kind = P_EXISTS
            elif pred.key is None and skind in (K_NUM, K_BOOL) and op in (
                    Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN, Op.IN, Op.NOT_IN,
                    Op.IS_TRUE):
                kind = P_NUM
                if op is Op.IS_TRUE:
                    op, a = Op.EQ, 1.0
                elif op is Op.BETWEEN:
                    a, b = float(pred.arg[0]), float(pred.arg[1])
                elif op in (Op.IN, Op.NOT_IN):
                    off, n = len(num_pool), len(pred.arg)
                    num_pool.extend(float(v) for v in pred.arg)
                else:
                    a = float(pred.arg)
            elif pred.key is None and skind == K_STR and op in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN):
                kind = P_STR
                table = tables[slot]
                values = pred.arg if op in (Op.IN, Op.NOT_IN) else [pred.arg]
                off, n = len(id_pool), len(values)
                for value in values:
                    id_pool.append(table.setdefault(value, len(table)))
            else:
                pre.append((index, *_python_test(pred), slot, pred))
            p_kind.append(kind)
            p_op.append(int(op))
            p_slot.append(slot)
            p_a.append(a)
            p_b.append(b)
            p_off.append(off)
            p_len.append(n)
        self._npred = len(p_kind)
        self._p_kind = array("i", p_kind)
        self._p_op = array("i", p_op)
        self._p_slot = array("i", p_slot)
        self._p_a = array("d", p_a)
        self._p_b = array("d", p_b)
        self._p_off = array("i", p_off)
        self._p_len = array("i", p_len)
        self._num_pool = array("d", num_pool or [0.0])
        self._id_pool = array("i", id_pool or [0])
        self._pre = pre
        self._pre_index = array("i", [entry[0] for entry in pre] or [0])
        self._npre = len(pre)
        self._str_tables = tables
        bases, total = [], 0
        for table in tables:
            bases.append(total)
            total += len(table) if table is not None else 0
        self._str_base = array("i", bases or [0])

    def _build_programs(self, ruleset):
        codes, offs, lens = [], [], []
        longest = 1
        for rule in ruleset.rules:
            offs.append(len(codes))
            lens.append(len(rule.program))
            codes.extend(int(c) for c in rule.program)
            longest = max(longest, len(rule.program))
        self._codes = array("i", codes or [0])
        self._prog_off = array("i", offs or [0])
        self._prog_len = array("i", lens or [0])
        self._max_prog = longest
        self._rule_ids = [rule.id for rule in ruleset.rules]
        self._nrules = len(ruleset.rules)

    def _selectivity(self, int i):
        """A guess, made once per ruleset, of the share of events for which
        predicate i is true; the index keys each rule on its rarest
        positive conjunct. None for predicates the index cannot serve."""
        kind, op, slot = self._p_kind[i], self._p_op[i], self._p_slot[i]
        pred = self.ruleset.predicates[i]
        attribute = CATALOGUE[pred.attribute]
        if kind == P_STR and op in (Op.EQ, Op.IN):
            share = 1.0 / len(attribute.values) if attribute.values else 0.05
            return min(1.0, share * self._p_len[i])
        if kind == P_NUM and self._slot_kind[slot] == K_BOOL:
            return 0.5 if op == Op.EQ and self._p_a[i] == 1.0 else None
        if kind == P_NUM and op in (Op.GE, Op.GT):
            scale = 10_000.0 if attribute.unit is Unit.KRW else 1.0
            return min(0.9, scale / max(self._p_a[i], 0.5))
        if kind == P_NUM and op == Op.EQ:
            return 0.05
        if kind == P_NUM and op == Op.BETWEEN:
            return 0.3
        if kind == P_NUM and op in (Op.LE, Op.LT):
            return 0.6
        if kind == P_PRE and op in (Op.MATCHES, Op.HAS_COUPON, Op.EXPIRES_WITHIN, Op.CONTAINS,
                                    Op.STARTS_WITH):
            return 0.1
        return None

    def _required(self, rule):
        """The predicates to index this rule by: its two rarest positive
        top-level conjuncts the index can serve (a rule is a candidate only
        when all of them hold); empty if it has none."""
        ranked = sorted((share, i) for i in set(_positive_conjuncts(rule.program))
                        if (share := self._selectivity(i)) is not None)
        return [i for _, i in ranked[:2]]

    def _build_index(self, ruleset, trigger):
        cdef _Index ix = _Index()
        order = list(ruleset.by_trigger[trigger])
        ix.n = len(order)
        ix.order = array("i", order or [0])
        nslots = max(self._nslots, 1)
        nstr = max(sum(len(t) for t in self._str_tables if t is not None), 1)
        always, pool = [], []
        str_lists = [[] for _ in range(nstr)]
        bool_lists = [[] for _ in range(nslots)]
        ge_lists = [[] for _ in range(nslots)]
        le_lists = [[] for _ in range(nslots)]
        pre_lists = [[] for _ in range(max(self._npred, 1))]
        need = []
        for pos, rule_index in enumerate(order):
            keys = self._required(ruleset.rules[rule_index])
            need.append(len(keys))
            if not keys:
                always.append(pos)
            for i in keys:
                kind, op, slot = self._p_kind[i], self._p_op[i], self._p_slot[i]
                if kind == P_PRE:
                    pre_lists[i].append(pos)
                elif kind == P_STR:
                    for j in range(self._p_off[i], self._p_off[i] + self._p_len[i]):
                        str_lists[self._str_base[slot] + self._id_pool[j]].append(pos)
                elif self._slot_kind[slot] == K_BOOL and op == Op.EQ and self._p_a[i] == 1.0:
                    bool_lists[slot].append(pos)
                elif op in (Op.GE, Op.GT, Op.EQ, Op.BETWEEN):
                    ge_lists[slot].append((self._p_a[i], op == Op.GT, pos))
                else:
                    le_lists[slot].append((self._p_a[i], op == Op.LT, pos))
        ix.need = bytearray(need or [0])
        ix.hits = bytearray(max(len(need), 1))
        ix.always = array("i", always or [0])
        if not always:
            ix.always = ix.always[:0]
        str_off, str_len = [], []
        for lst in str_lists:
            str_off.append(len(pool))
            str_len.append(len(lst))
            pool.extend(lst)
        bool_off, bool_len = [], []
        for lst in bool_lists:
            bool_off.append(len(pool))
            bool_len.append(len(lst))
            pool.extend(lst)
        pre_off, pre_len = [], []
        for lst in pre_lists:
            pre_off.append(len(pool))
            pre_len.append(len(lst))
            pool.extend(lst)
        ix.pool = array("i", pool or [0])
        ix.pre_off, ix.pre_len = array("i", pre_off), array("i", pre_len)
        ix.str_off, ix.str_len = array("i", str_off), array("i", str_len)
        ix.bool_off, ix.bool_len = array("i", bool_off), array("i", bool_len)
        for name, lists, descending in (("ge", ge_lists, False), ("le", le_lists, True)):
            offs, lens, thr, poss, strict = [], [], [], [], []
            for lst in lists:
                lst.sort(key=lambda e: (-e[0] if descending else e[0], e[2]))
                offs.append(len(thr))
                lens.append(len(lst))
                for t, s, p in lst:
                    thr.append(t)
                    strict.append(1 if s else 0)
                    poss.append(p)
            if name == "ge":
                ix.ge_off, ix.ge_len = array("i", offs), array("i", lens)
                ix.ge_thr, ix.ge_pos = array("d", thr or [0.0]), array("i", poss or [0])
                ix.ge_strict = bytearray(strict or [0])
            else:
                ix.le_off, ix.le_len = array("i", offs), array("i", lens)
                ix.le_thr, ix.le_pos = array("d", thr or [0.0]), array("i", poss or [0])
                ix.le_strict = bytearray(strict or [0])
        return ix

    def _alloc(self):
        n = max(self._nslots, 1)
        self._values = <double*> PyMem_Malloc(n * sizeof(double))
        self._present = <char*> PyMem_Malloc(n)
        self._ids = <int*> PyMem_Malloc(n * sizeof(int))
        self._cache = <char*> PyMem_Malloc(max(self._npred, 1))
        self._bits = <unsigned long long*> PyMem_Malloc(
            ((max(self._nrules, 1) + 63) // 64) * sizeof(unsigned long long))
        self._out = <int*> PyMem_Malloc(max(self._nrules, 1) * sizeof(int))
        self._stack = <char*> PyMem_Malloc(self._max_prog + 1)
        if (self._values == NULL or self._present == NULL or self._ids == NULL
                or self._cache == NULL or self._bits == NULL or self._out == NULL
                or self._stack == NULL):
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._values)
        PyMem_Free(self._present)
        PyMem_Free(self._ids)
        PyMem_Free(self._cache)
        PyMem_Free(self._bits)
        PyMem_Free(self._out)
        PyMem_Free(self._stack)

    # -- per event ----------------------------------------------------------------

    def match(self, profile, trigger="pageview"):
        cdef _Index ix
        try:
            ix = self._indexes[trigger]
        except (KeyError, TypeError):
            raise UnknownTriggerError(trigger) from None
        self._load(profile)
        cdef int count
        with nogil:
            count = self._run(ix)
        cdef list ids = self._rule_ids
        cdef list found = [None] * count
        cdef int k
        for k in range(count):
            found[k] = ids[self._out[k]]
        return found

    cdef _load(self, profile):
        cdef int s, kind
        cdef double d
        cdef object v, t
        cdef dict table
        cdef list objects = self._objects  # the Python values state-step predicates read
        get = profile.get
        for s in range(self._nslots):
            v = get(self._names[s])
            if v is None:
                self._present[s] = 0
                continue
            self._present[s] = 1
            kind = self._slot_kind[s]
            if kind == K_NUM:
                t = type(v)
                if t is float:
                    d = v
                    if not isfinite(d):
                        check_value(self._names[s], v)
                elif t is int:
                    try:
                        d = v
                    except OverflowError:
                        check_value(self._names[s], v)
                        raise
                else:
                    check_value(self._names[s], v)
                    d = float(v)
                self._values[s] = d
            elif kind == K_BOOL:
                if v is True:
                    self._values[s] = 1.0
                elif v is False:
                    self._values[s] = 0.0
                else:
                    check_value(self._names[s], v)
            elif kind == K_STR:
                if type(v) is not str:
                    check_value(self._names[s], v)
                table = self._str_tables[s]
                self._ids[s] = table.get(v, -1)
                objects[s] = v
            else:
                if not _plain_container(self._obj_kind[s], v):
                    check_value(self._names[s], v)
                objects[s] = v
        memset(self._cache, 0, self._npred)
        cdef int index, how, slot
        cdef double now, expiry, seconds
        for index, how, arg, slot, pred in self._pre:
            if not self._present[slot]:
                self._cache[index] = 1
                continue
            v = objects[slot]
            if how == X_STARTS:
                ok = (<str> v).startswith(arg) if type(v) is str else v.startswith(arg)
            elif how == X_CONTAINS:
                ok = arg in v
            elif how == X_EQUAL:
                ok = v == arg
            elif how == X_ENDS:
                ok = (<str> v).endswith(arg) if type(v) is str else v.endswith(arg)
            elif how == X_REGEX:
                ok = arg(v) is not None
            elif how == X_HAS_COUPON or how == X_EXPIRES:
                ok = False
                if self._now_slot >= 0 and self._present[self._now_slot]:
                    now = self._values[self._now_slot]
                    if how == X_HAS_COUPON:
                        e = v.get(arg)
                        ok = e is not None and <double> e > now
                    else:
                        code, seconds = arg
                        for c, e in v.items():
                            if code is not None and c != code:
                                continue
                            expiry = e
                            if now < expiry <= now + seconds:
                                ok = True
                                break
            else:
                ok = predicate_value(pred, profile)
            self._cache[index] = 2 if ok else 1

    cdef bint _pred(self, int i) noexcept nogil:
        cdef char c = self._cache[i]
        cdef int kind, slot, op, j
        cdef bint result
        if c:
            return c == 2
        kind = self._p_kind[i]
        slot = self._p_slot[i]
        if not self._present[slot]:
            result = False
        elif kind == P_EXISTS:
            result = True
        elif kind == P_NUM:
            result = _num_test(self._p_op[i], self._values[slot], self._p_a[i], self._p_b[i],
                               &self._num_pool[0], self._p_off[i], self._p_len[i])
        else:  # P_STR
            op = self._p_op[i]
            result = op == 2 or op == 9  # NE / NOT_IN when no constant equals
            for j in range(self._p_off[i], self._p_off[i] + self._p_len[i]):
                if self._id_pool[j] == self._ids[slot]:
                    result = not result
                    break
        self._cache[i] = 2 if result else 1
        return result

    cdef bint _program(self, int rule) noexcept nogil:
        cdef int k, code, top = 0
        cdef int start = self._prog_off[rule]
        cdef int end = start + self._prog_len[rule]
        cdef char* stack = self._stack
        for k in range(start, end):
            code = self._codes[k]
            if code >= 0:
                stack[top] = self._pred(code)
                top += 1
            elif code == AND:
                top -= 1
                stack[top - 1] = stack[top - 1] and stack[top]
            elif code == OR:
                top -= 1
                stack[top - 1] = stack[top - 1] or stack[top]
            elif code == NOT:
                stack[top - 1] = not stack[top - 1]
            elif code == TRUE:
                stack[top] = 1
                top += 1
            else:
                stack[top] = 0
                top += 1
        return stack[0]

    cdef void _hit(self, _Index ix, int pos) noexcept nogil:
        # One of the rule's index keys holds; it is a candidate once all do.
        ix.hits[pos] += 1
        if ix.hits[pos] == ix.need[pos]:
            self._mark(pos)

    cdef void _mark(self, int pos) noexcept nogil:
        self._bits[pos >> 6] |= (<unsigned long long> 1) << (pos & 63)

    cdef int _run(self, _Index ix) noexcept nogil:
        cdef int words = (ix.n + 63) >> 6
        cdef int i, j, s, end, pos, rule, count = 0, base
        cdef double v
        cdef unsigned long long w
        if ix.n == 0:
            return 0
        memset(self._bits, 0, words * sizeof(unsigned long long))
        memset(&ix.hits[0], 0, ix.n)
        for i in range(ix.always.shape[0]):
            self._mark(ix.always[i])
        for i in range(self._npre):
            s = self._pre_index[i]
            if self._cache[s] == 2:
                for j in range(ix.pre_off[s], ix.pre_off[s] + ix.pre_len[s]):
                    self._hit(ix, ix.pool[j])
        for s in range(self._nslots):
            if not self._present[s]:
                continue
            if self._slot_kind[s] == K_STR:
                if self._ids[s] >= 0:
                    base = self._str_base[s] + self._ids[s]
                    for j in range(ix.str_off[base], ix.str_off[base] + ix.str_len[base]):
                        self._hit(ix, ix.pool[j])
                continue
            if self._slot_kind[s] == K_OBJ:
                continue
            v = self._values[s]
            if self._slot_kind[s] == K_BOOL and v == 1.0:
                for j in range(ix.bool_off[s], ix.bool_off[s] + ix.bool_len[s]):
                    self._hit(ix, ix.pool[j])
            end = ix.ge_off[s] + ix.ge_len[s]
            for j in range(ix.ge_off[s], end):
                if ix.ge_thr[j] > v:
                    break
                if ix.ge_thr[j] < v or not ix.ge_strict[j]:
                    self._hit(ix, ix.ge_pos[j])
            end = ix.le_off[s] + ix.le_len[s]
            for j in range(ix.le_off[s], end):
                if ix.le_thr[j] < v:
                    break
                if ix.le_thr[j] > v or not ix.le_strict[j]:
                    self._hit(ix, ix.le_pos[j])
        for i in range(words):
            w = self._bits[i]
            while w:
                pos = (i << 6) + _ctz(w)
                w &= w - 1
                rule = ix.order[pos]
                if self._program(rule):
                    self._out[count] = rule
                    count += 1
        return count


cdef extern from *:
    """
    static inline int ondo_ctz(unsigned long long x) { return __builtin_ctzll(x); }
    """
    int ondo_ctz(unsigned long long x) noexcept nogil


cdef inline int _ctz(unsigned long long x) noexcept nogil:
    return ondo_ctz(x)


def _positive_conjuncts(program):
    """Predicate indices that must be true for the program to be true: leaves
    reachable from the root through AND only."""
    stack = []
    for code in program:
        if code >= 0:
            stack.append(("leaf", code))
        elif code == Code.AND:
            b = stack.pop()
            a = stack.pop()
            stack.append(("and", a, b))
        elif code in (Code.OR,):
            b = stack.pop()
            a = stack.pop()
            stack.append(("other", a, b))
        elif code == Code.NOT:
            stack.append(("other", stack.pop()))
        else:
            stack.append(("other",))
    out = []
    todo = [stack[0]] if stack else []
    while todo:
        node = todo.pop()
        if node[0] == "leaf":
            out.append(node[1])
        elif node[0] == "and":
            todo.extend(node[1:])
    return out


cdef bint _plain_container(int kind, object v):
    """A quick yes for the common, well-typed string sets, coupon maps and
    query parameters; anything else goes through the reference's check_value,
    which raises exactly what the reference raises (or accepts)."""
    cdef object x, k
    if kind == O_SET:
        if type(v) is not list:
            return False
        for x in <list> v:
            if type(x) is not str:
                return False
        return True
    if type(v) is not dict:
        return False
    for k, x in (<dict> v).items():
        if type(k) is not str:
            return False
        if kind == O_PARAMS:
            if type(x) is not str:
                return False
        elif type(x) is int:
            if not -2**62 < x < 2**62:
                return False
        elif type(x) is not float or not isfinite(<double> x):
            return False
    return True


def _python_test(pred):
    """(evaluator kind, argument) for a predicate evaluated in the state step."""
    op, arg = pred.op, pred.arg
    if pred.key is not None:
        return X_GENERIC, None
    if op is Op.MATCHES:
        shape, literal = glob_shape(arg)
        if shape == "equal":
            return X_EQUAL, literal
        if shape == "prefix":
            return X_STARTS, literal
        if shape == "suffix":
            return X_ENDS, literal
        if shape == "infix":
            return X_CONTAINS, literal
        return X_REGEX, compile_glob(arg).fullmatch
    if op is Op.STARTS_WITH:
        return X_STARTS, arg
    if op is Op.CONTAINS:
        return X_CONTAINS, arg
    if op is Op.HAS_COUPON:
        return X_HAS_COUPON, arg
    if op is Op.EXPIRES_WITHIN:
        return X_EXPIRES, (arg[0], float(arg[1]))
    return X_GENERIC, None
