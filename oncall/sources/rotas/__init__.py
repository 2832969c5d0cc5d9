"""Rota files: ``rotations/<team>.yaml`` read into :class:`~oncall.domain.rota.model.Team`
objects.

Three jobs, one module each:

* **reading and validation** (:mod:`~oncall.sources.rotas.reading`, with the time-bearing
  sections in :mod:`~oncall.sources.rotas.schedules` and the small field parsers in
  :mod:`~oncall.sources.rotas.fields`): every mistake a manager can make in the file, each with
  file, line and key path, all of them in one pass;
* **coverage** (:mod:`~oncall.sources.rotas.coverage`): times in the coming days when a level
  the escalation policy pages has nobody on call;
* **hot reload** (:mod:`~oncall.sources.rotas.registry`): the live rotas, polled from the
  directory (:mod:`~oncall.sources.rotas.directory` says which files count); an edit takes
  effect only if it is good, otherwise the last good version stays live.

The file shape is documented in ``rotations/README.md``.
"""
