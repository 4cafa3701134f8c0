"""Per-key state of the detection core: the declared schema, the window class, and the shells' stores."""

from streams.state.buffer import BufferedState
from streams.state.schema import (STATE_TYPES, VERSION, Burst, Call, Device, Dialled, ExtState, Features, Incident, IpState, KeyState,
                     OneRing, SpendWindow, StateVersionError, Takeover, TenantState, TrunkState, new_state)
from streams.state.timeset import Intervals, TimeSet

__all__ = ["BufferedState", "STATE_TYPES", "VERSION", "Burst", "Call", "Device", "Dialled", "ExtState", "Features", "Incident",
           "IpState", "KeyState", "OneRing", "SpendWindow", "StateVersionError", "Takeover", "TenantState", "TrunkState",
           "TimeSet", "Intervals", "new_state"]
