"""What a running engine is made of: its configuration, its sites and their active
rules, the clock, the metrics, the embedded Redis, how uvicorn serves it."""
