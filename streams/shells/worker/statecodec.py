"""Changelog values: the rule state of a key (streams.state.schema) or a partition's clock, versioned msgpack."""

from __future__ import annotations

from typing import Union

import msgspec

from streams.state import ExtState, IpState, StateVersionError, TenantState, TrunkState
from streams.state.schema import VERSION
from streams.domain.incidents import SubjectIncidents
from streams.shells.worker.clock import ClockState

_decoder = msgspec.msgpack.Decoder(Union[IpState, ExtState, TrunkState, TenantState, ClockState, SubjectIncidents])
_encoder = msgspec.msgpack.Encoder()


def encode_value(value) -> bytes:
    return _encoder.encode(value)


def decode_value(raw: bytes):
    """A persisted value, or StateVersionError saying what was found instead."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        found = "not a tollguard state record"
        try:
            obj = msgspec.msgpack.decode(raw)
            if isinstance(obj, dict) and "type" in obj:
                found = f"schema {obj['type']!r}"
            elif isinstance(obj, dict):
                found = "an untagged map (written before state schema version 1)"
        except Exception:
            pass
        raise StateVersionError(f"state value is {found}; this version reads schema version {VERSION} ({exc})") from None
