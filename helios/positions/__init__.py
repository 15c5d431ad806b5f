"""The position manager: lifecycle (``lifecycle``), the stop monitor's rules (``monitor``) and
``hx.positions`` (``manager``)."""
