"""The HTTP and websocket shells: the Starlette app and its typed services, the
socket gateway, the beacon, the admin and server-event APIs, the demo storefront.
Thin: every event goes to ``engine.flow``."""
