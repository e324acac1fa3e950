"""Where collection ends and the UI begins.

The console's sources, store merging and analysis run in a collector process
(``collector.main``); the UI reads its relay, which sends each viewer only what
changed since that viewer's last read (``collector.delta``, ``collector.journal``).
``collector.process`` starts one for ``watchfloor``, ``demo`` and ``--wall``;
``serve`` runs the same relay in its own process for its browser viewers.
"""
