"""Forecast evaluation: rolling-origin backtests with proper scores, skill and ensemble weights."""
