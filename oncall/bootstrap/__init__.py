"""Wiring: build a runtime with real or fake parts, and run the background work of a process
(outbox worker thread, engine tick, file polling, SIGHUP).

May import every part below ``web``; imported by ``web`` and ``cli`` only.
"""
