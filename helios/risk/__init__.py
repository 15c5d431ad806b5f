"""The guardian: the 7 risk checks (``checks``), the limits (``limits``), market statistics
(``volatility``), position sizing (``sizing``) and ``hx.risk`` (``service``).

Kept import-light on purpose: ``helios.config`` reads the limit rules from ``limits``.
"""
