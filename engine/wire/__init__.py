"""The wire: what the widget and the engine say to each other (protocol ``ondo.v1``),
frames parsed and checked, the session state of one socket, action ids. Pure: no
I/O; imports nothing of the engine's other layers."""
