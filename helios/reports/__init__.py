"""The operator's daily and weekly reports (issue 17): the seed's daily and weekly checks as text
for a message, an e-mail or the terminal, with the equity curve as a PNG.

- ``figures`` (L2, pure): the frozen figures a report is written from, the period, the report;
- ``text`` (L2, pure): the daily and the weekly report's text from their figures;
- ``chart`` (L2, pure): the equity curve rendered to PNG bytes (matplotlib, Agg, no pyplot);
- ``reads`` (L4d): the snapshot and position reads the figures need;
- ``service`` (L4d): ``Reports`` (``hx.reports``): ``daily``, ``weekly`` and ``deliver_due``,
  which queues the reports due at the day roll as alerts (``hx.alerts``).

The modules sit in different layers, so this package holds no code of its own.
"""
