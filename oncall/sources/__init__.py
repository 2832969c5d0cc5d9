"""The files managers edit: rota files (``rotations/*.yaml``), ``customers.yaml`` and the voice
flows (``voice_flows/``), each read into domain types with file:line errors, and the hot-reload
registry that keeps the last good version live.

May import ``oncall.config`` and ``oncall.domain``; never the database, the web or a use case.
"""
