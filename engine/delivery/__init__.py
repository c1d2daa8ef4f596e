"""Which matched rules become actions and why the others do not (the policy, pure),
and the per-rule counters of those outcomes."""
