"""The guardian. Pure rules: the 7 risk checks (``checks``), the limits (``limits``), the pre-checks
(``prechecks``), market statistics (``volatility``), position sizing (``sizing``), capacity
(``capacity``), the account as the checks see it (``book``), a decision's replayable inputs
(``inputs``), a preview's headroom (``preview``) and the limits' use (``utilisation``).
Services: ``hx.risk`` (``service.RiskManager``) composes ``limit_store``, ``stats_cache``,
``input_reader`` (with ``statements`` and ``venue``), ``decisions``, ``sizing_service`` and
``capacity_service``.

Kept import-light on purpose: ``helios.config`` reads the limit rules from ``limits``.
"""
