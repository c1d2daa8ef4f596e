"""Forecasts: what a draft rule file would have done to recorded traffic
(docs/forecast.md)."""
