# Declarations of the compiled matcher's typed layout (engine/matcher/compiled.pyx).
# The Python-visible API is typed for mypy in matcher.pyi.

cdef class _Index:
    """One trigger's rules in priority order and their candidate index."""

    cdef int n                      # rules on this trigger
    cdef int[::1] order             # position -> rule index
    cdef int[::1] always            # positions always considered (rules with no index key)
    cdef unsigned char[::1] need    # per position: index keys that must all hold (0-2)
    cdef unsigned char[::1] hits    # per event: index keys found to hold
    cdef int[::1] pool              # positions, sliced by the tables below
    cdef int[::1] str_off           # per (string slot base + constant id): slice of pool
    cdef int[::1] str_len
    cdef int[::1] pre_off           # per predicate evaluated in the state step
    cdef int[::1] pre_len
    cdef int[::1] bool_off          # per slot
    cdef int[::1] bool_len
    cdef int[::1] ge_off            # per slot: slice of ge_thr/ge_pos/ge_strict
    cdef int[::1] ge_len
    cdef double[::1] ge_thr
    cdef int[::1] ge_pos
    cdef char[::1] ge_strict
    cdef int[::1] le_off
    cdef int[::1] le_len
    cdef double[::1] le_thr
    cdef int[::1] le_pos
    cdef char[::1] le_strict


cdef class Matcher:
    cdef readonly object ruleset
    cdef list _names                # slot -> attribute name
    cdef int[::1] _slot_kind
    cdef int[::1] _obj_kind         # for object slots: set, coupons or params
    cdef list _objects              # per event: Python values of string and object slots
    cdef int _now_slot              # the slot of `now` (coupon tests), or -1
    cdef list _str_tables           # slot -> dict constant -> id (or None)
    cdef int[::1] _str_base         # slot -> base into str_off/str_len tables
    cdef int _npred
    cdef int[::1] _p_kind
    cdef int[::1] _p_op
    cdef int[::1] _p_slot
    cdef double[::1] _p_a
    cdef double[::1] _p_b
    cdef int[::1] _p_off
    cdef int[::1] _p_len
    cdef double[::1] _num_pool
    cdef int[::1] _id_pool
    cdef list _pre                  # (predicate index, evaluator kind, arg, slot, predicate)
    cdef int[::1] _pre_index        # their predicate indices
    cdef int _npre
    cdef int[::1] _codes
    cdef int[::1] _prog_off
    cdef int[::1] _prog_len
    cdef int _max_prog
    cdef list _rule_ids
    cdef dict _indexes              # trigger -> _Index
    # per-event scratch
    cdef double* _values
    cdef char* _present
    cdef int* _ids
    cdef char* _cache
    cdef unsigned long long* _bits
    cdef int* _out
    cdef char* _stack
    cdef int _nslots, _nrules

    cdef _load(self, profile)
    cdef bint _pred(self, int i) noexcept nogil
    cdef bint _program(self, int rule) noexcept nogil
    cdef void _hit(self, _Index ix, int pos) noexcept nogil
    cdef void _mark(self, int pos) noexcept nogil
    cdef int _run(self, _Index ix) noexcept nogil
