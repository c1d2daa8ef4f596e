"""The statistics of "did the rule work?": counts of a treated and a control group in,
intervals and a verdict out (``lift.py``, docs/stats.md). Pure: no I/O, no clock and no
storage; the only dependency beyond the standard library is scipy, for the Wilson score
intervals, the Katz relative-risk interval and normal quantiles. The same comparison
serves a rule's holdout (shown vs held out) and the site holdback (outside vs inside)."""
