"""Per-key state of the detection core: the declared schema, the window classes, and the shells' stores."""

from streams.state.buffer import BufferedState
from streams.state.schema import (STATE_TYPES, VERSION, Burst, Call, Device, Dialled, ExtState, Features, Incident,
                                  IpState, KeyState, OneRing, SpendWindow, StateVersionError, Takeover, TenantState,
                                  TrunkState)
from streams.state.timeset import Intervals, TimeSet

__all__ = ["BufferedState", "STATE_TYPES", "VERSION", "Burst", "Call", "Device", "Dialled", "ExtState", "Features", "Incident",
           "IpState", "KeyState", "OneRing", "SpendWindow", "StateVersionError", "Takeover", "TenantState", "TrunkState",
           "TimeSet", "Intervals"]
