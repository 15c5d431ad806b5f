"""The manual commands (L5): each acts on several services, so none of them lives in a service.

- ``EmergencyStop`` (``emergency_stop.py``): halt with ``close_all`` and close every open
  position as EMERGENCY_CLOSE now;
- ``CloseAll`` (``close_all.py``): close every open position as CLOSED, without halting;
- ``Resume`` (``resume.py``): lift a halt, acknowledging the automatic conditions in force;
- ``SetMode`` (``set_mode.py``): PAPER at once, LIVE only through the pre-live checklist.

Each is given the collaborators it needs in its constructor (the trading state, the positions'
closing service, the watchdog's conditions, the pre-live checklist) and imports nothing above
L4. ``helios.controls.Controls`` (``hx.controls``) composes them with the trading state; the
CLI, the dashboard, the API and notebooks all go through it, so each command records who and
why the same way whatever the entry point.
"""

from helios.commands.close_all import CloseAll, ClosesAll
from helios.commands.emergency_stop import EmergencyStop
from helios.commands.resume import Resume
from helios.commands.set_mode import SetMode

__all__ = ["CloseAll", "ClosesAll", "EmergencyStop", "Resume", "SetMode"]
