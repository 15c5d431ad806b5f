"""The API's request and response models: every field with its unit and limits, so ``/docs`` and
``/openapi.json`` describe the API completely.

Units: money in ZAR, sent back as exact decimal strings ("1250.50000000"); prices in ZAR per
coin; fractions are plain numbers (0.02 = 2%); times in ISO 8601 with their zone (UTC). The
ranges here are the ones helios enforces (``helios.trade``, ``helios.risk.limits``,
``helios.signals``); helios checks again and has the last word.

Hostile text (``helios.text``: a control character other than TAB/LF/CR, an unpaired surrogate,
a bidi override) is refused with 422 naming the field, its value escaped (so the answer itself
is valid JSON) and what it allows, anywhere in a body, keys included; with one exception. The
emergency controls (emergency stop, close-all, resume) take any text in ``by`` and their reason
or note: helios cleans it (``helios.controls``, the one place every entry point goes through)
and stores it cleaned, because a stop must never fail on the words that came with it. Their
``by`` must still hold something visible once cleaned (422 naming ``by`` otherwise).

One module per router (``portfolio``, ``control``, ``risk``, ``upstream``) and ``common`` for
what they share; every name is re-exported here (``from api.models import ...``).
"""

from api.models.common import (
    CLEANED,
    CleanedWho,
    ErrorOut,
    HaltOut,
    IsoTime,
    Money,
    NoHostileText,
    Pair,
    Refused,
    Side,
    Status,
    Strict,
    Who,
    someone,
)
from api.models.control import (
    ActorIn,
    CloseAllOut,
    CloseIn,
    CloseOut,
    EmergencyStopOut,
    ModeIn,
    ModeOut,
    ResumeIn,
    ResumeOut,
)
from api.models.portfolio import (
    MetricsOut,
    PositionDetailOut,
    PositionOut,
    StateOut,
    SummaryOut,
    ValuationOut,
)
from api.models.risk import (
    RiskCheckIn,
    RiskCheckOut,
    RiskLimitsIn,
    RiskLimitsOut,
    RiskMetricsOut,
    TradeParamsIn,
    UtilisationOut,
)
from api.models.upstream import OptimizerIn, OptimizerOut, SignalIn, SignalOut

__all__ = [
    "CLEANED",
    "ActorIn",
    "CleanedWho",
    "CloseAllOut",
    "CloseIn",
    "CloseOut",
    "EmergencyStopOut",
    "ErrorOut",
    "HaltOut",
    "IsoTime",
    "MetricsOut",
    "ModeIn",
    "ModeOut",
    "Money",
    "NoHostileText",
    "OptimizerIn",
    "OptimizerOut",
    "Pair",
    "PositionDetailOut",
    "PositionOut",
    "Refused",
    "ResumeIn",
    "ResumeOut",
    "RiskCheckIn",
    "RiskCheckOut",
    "RiskLimitsIn",
    "RiskLimitsOut",
    "RiskMetricsOut",
    "Side",
    "SignalIn",
    "SignalOut",
    "StateOut",
    "Status",
    "Strict",
    "SummaryOut",
    "TradeParamsIn",
    "UtilisationOut",
    "ValuationOut",
    "Who",
    "someone",
]
