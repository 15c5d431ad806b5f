"""Telling the operator (issue 17). Pure rules: what each event becomes (``rules``), how a
channel's queue becomes messages (``digest``), the scheduler silent (``silence``). Storage: the
outbox written in the causing transaction (``outbox``). Adapters: apprise (``channels``), the
dead-man's switch (``deadman``). Services: delivery (``sender``) and ``hx.alerts``
(``service.Alerts``). Each module sits in its own layer (pyproject.toml); this package only
holds them (docs/alerts.md).
"""
