"""Who is on call: rotations, layers, windows, overrides and escalation policies (pure code).

Nothing here reads files, talks to a database or asks a clock: every function takes the instant
it is about (``at``, timezone-aware) and returns plain values. Loading and validating the YAML
lives in :mod:`oncall.sources.rotas`.

*Instants* (``at``, override ``start``/``end``, every ``OnCall.start``/``end``) are aware
datetimes; results are in UTC. *Local times* (a rotation's ``start``, window edges) are naive
datetimes read as wall-clock time in the team's zone.

The modules, each importing only the ones above it:

* :mod:`~oncall.domain.rota.localtime`: local wall-clock time to instants, across DST changes;
* :mod:`~oncall.domain.rota.windows`: weekly windows of local time when a rotation is active;
* :mod:`~oncall.domain.rota.model`: the team, its members, rotations, overrides and policy;
* :mod:`~oncall.domain.rota.resolve`: who is on call at an instant, shifts, gaps, who a step
  pages;
* :mod:`~oncall.domain.rota.snapshots`: the policy frozen on a case when it opens, and who its
  steps page later;
* :mod:`~oncall.domain.rota.live`: live overrides (TAKEs) layered over a team, and who holds a
  level until when.
"""
