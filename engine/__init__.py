"""Ondo's engine: websocket gateway, session store, matcher and delivery."""
