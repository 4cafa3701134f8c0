//! The types of `streams/state/schema.py` (state schema 5), field for field and in the same order.
//!
//! An int is an `i128` (a Python int as msgpack carries it, -2**63 to 2**64-1: a window's ids read from
//! a changelog may be any of them); an untyped `list`'s items are `Value`s. `omit`/`keep` say whether
//! msgspec leaves the field out when it is its default (see `Codec::omitted`): `keep` for the defaults
//! made by a Struct or a lambda, which msgspec always writes.

use super::codec::{array_struct, map_struct, Dict, Float0};
use super::value::Value;

array_struct!(
    /// `TimeSet`: `[t, ids]`.
    TimeSet, 0, {
        t: Vec<f64> = Vec::new(),
        ids: Vec<u64> = Vec::new(),
    }
);

array_struct!(
    /// `Intervals`: `[ends, starts, ids, by_start]`.
    Intervals, 0, {
        ends: Vec<f64> = Vec::new(),
        starts: Vec<f64> = Vec::new(),
        ids: Vec<i128> = Vec::new(),
        by_start: Vec<f64> = Vec::new(),
    }
);

array_struct!(
    /// `ValueWindow`: `[t, ids, vals]`.
    ValueWindow, 0, {
        t: Vec<f64> = Vec::new(),
        ids: Vec<i128> = Vec::new(),
        vals: Vec<i128> = Vec::new(),
    }
);

array_struct!(
    /// `Incident`: one alert's incident (core-owned).
    Incident, 4, {
        first: f64 = 0.0,
        count: i128 = 0,
        alert_id: String = String::new(),
        until: f64 = 0.0,
    }
);

array_struct!(
    /// `Call`: a call of this extension seen in the last hours.
    Call, 1, {
        start: f64 = 0.0,
        deadline: Option<f64> = None,
        limit: i128 = 0,
        dst: String = String::new(),
        ended: bool = false,
        hung: bool = false,
    }
);

array_struct!(
    /// `Device`: a registered device of an extension (`concurrent_registrations`).
    Device, 1, {
        ip: String = String::new(),
        regs: Vec<f64> = Vec::new(),
        unregs: Vec<f64> = Vec::new(),
    }
);

array_struct!(
    /// `Burst`: a Wangiri burst found (`wangiri_inbound`).
    Burst, 3, {
        start: f64 = 0.0,
        until: f64 = 0.0,
        callers: Vec<String> = Vec::new(),
        prefix: String = String::new(),
    }
);

array_struct!(
    /// `Dialled`: an outbound call abroad (`wangiri_inbound`).
    Dialled, 4, {
        start: f64 = 0.0,
        src: String = String::new(),
        call_id: String = String::new(),
        live: bool = false,
    }
);

map_struct!(
    /// `SpendWindow`: the money of one spend limit in one key (`spend_limit`).
    SpendWindow, None, {
        size: Float0 = Float0(None), omit;
        buckets: Dict<i128, Vec<f64>> = Dict::default(), omit;
        calls: Dict<i128, Vec<Value>> = Dict::default(), omit;
        live: Dict<String, Vec<Value>> = Dict::default(), omit;
        due: Option<f64> = None, omit;
        total: Float0 = Float0(None), omit;
    }
);

map_struct!(
    /// `Takeover`: how an account signs in (`account_takeover`).
    Takeover, None, {
        since: Option<f64> = None, omit;
        ips: Dict<String, Vec<f64>> = Dict::default(), omit;
        agents: Dict<String, Vec<f64>> = Dict::default(), omit;
        remote: Option<Vec<Value>> = None, omit;
        fresh: Vec<Vec<Value>> = Vec::new(), omit;
        calls: Vec<Vec<Value>> = Vec::new(), omit;
    }
);

map_struct!(
    /// `OneRing`: one-ring inbound calls from one country (`wangiri_inbound`).
    OneRing, None, {
        calls: TimeSet = TimeSet::default(), keep;
        callers: Dict<String, f64> = Dict::default(), omit;
        targets: Dict<String, f64> = Dict::default(), omit;
        bursts: Vec<Burst> = Vec::new(), omit;
    }
);

map_struct!(
    /// `ScanTarget`: calls to one foreign number (`route_scan`).
    ScanTarget, None, {
        tries: TimeSet = TimeSet::default(), keep;
        forms: Dict<String, f64> = Dict::default(), omit;
        sources: Dict<String, f64> = Dict::default(), omit;
        callers: Dict<String, f64> = Dict::default(), omit;
    }
);

map_struct!(
    /// `Features`: the anomaly model's per-extension behaviour. `s1` and `s24` come from lambdas, so
    /// msgspec writes them always.
    Features, None, {
        t: Option<f64> = None, omit;
        s1: Vec<f64> = vec![0.0; 2], keep;
        s24: Vec<f64> = vec![0.0; 8], keep;
        mx: Float0 = Float0(None), omit;
        seen: Vec<i128> = Vec::new(), omit;
        recent: Dict<i128, f64> = Dict::default(), omit;
        countries: Dict<String, f64> = Dict::default(), omit;
        usual: Option<Vec<f64>> = None, omit;
        spread: Option<Vec<f64>> = None, omit;
        calls: Vec<String> = Vec::new(), omit;
        held: Vec<Vec<f64>> = Vec::new(), omit;
    }
);

map_struct!(
    /// `IpState` (`ip/5`, key `ip:<address>`).
    IpState, Some("ip/5"), {
        incidents: Dict<String, Incident> = Dict::default(), omit;
        last: Option<f64> = None, omit;
        auto_defense: Dict<String, TimeSet> = Dict::default(), omit;
        registration_lockout: Option<TimeSet> = None, omit;
        registration_accounts: Dict<i128, String> = Dict::default(), omit;
        registration_locked: Dict<String, Vec<i128>> = Dict::default(), omit;
        login_lockout: Option<TimeSet> = None, omit;
        blocks: Dict<String, Vec<Vec<f64>>> = Dict::default(), omit;
        seen: Dict<String, Vec<f64>> = Dict::default(), omit;
        custom: Dict<String, ValueWindow> = Dict::default(), omit;
    }
);

map_struct!(
    /// `ExtState` (`ext/5`, key `ext:<tenant>/<ext>`).
    ExtState, Some("ext/5"), {
        incidents: Dict<String, Incident> = Dict::default(), omit;
        last: Option<f64> = None, omit;
        calls: Dict<String, Call> = Dict::default(), omit;
        call_frequency: Option<TimeSet> = None, omit;
        pin_failures: Option<TimeSet> = None, omit;
        daily_calls: Dict<i128, TimeSet> = Dict::default(), omit;
        sequential_calls: Dict<String, TimeSet> = Dict::default(), omit;
        devices: Dict<String, Device> = Dict::default(), omit;
        anomaly: Option<Features> = None, omit;
        account_failures: Dict<String, TimeSet> = Dict::default(), omit;
        account_source_ips: Dict<i128, String> = Dict::default(), omit;
        account_locked: Dict<String, Vec<i128>> = Dict::default(), omit;
        next_timer: Option<f64> = None, omit;
        account_takeover: Option<Takeover> = None, omit;
        spend_limit: Dict<String, SpendWindow> = Dict::default(), omit;
        custom: Dict<String, ValueWindow> = Dict::default(), omit;
    }
);

map_struct!(
    /// `TrunkState` (`trunk/5`, key `trunk:<tenant>/<trunk>`). `done` defaults to a new `Intervals`,
    /// which msgspec always writes.
    TrunkState, Some("trunk/5"), {
        incidents: Dict<String, Incident> = Dict::default(), omit;
        last: Option<f64> = None, omit;
        live: Dict<String, f64> = Dict::default(), omit;
        live_latest: Option<f64> = None, omit;
        pending: Dict<String, Vec<Value>> = Dict::default(), omit;
        done: Intervals = Intervals::default(), keep;
        spend_limit: Dict<String, SpendWindow> = Dict::default(), omit;
        custom: Dict<String, ValueWindow> = Dict::default(), omit;
    }
);

map_struct!(
    /// `TenantState` (`tenant/5`, key `tenant:<tenant>`).
    TenantState, Some("tenant/5"), {
        incidents: Dict<String, Incident> = Dict::default(), omit;
        last: Option<f64> = None, omit;
        failures: Option<TimeSet> = None, omit;
        failure_sources: Option<TimeSet> = None, omit;
        failure_accounts: Option<TimeSet> = None, omit;
        accounts: Dict<String, f64> = Dict::default(), omit;
        sources: Dict<String, f64> = Dict::default(), omit;
        probes: Dict<String, TimeSet> = Dict::default(), omit;
        wangiri_inbound: Dict<String, OneRing> = Dict::default(), omit;
        wangiri_dialled: Dict<String, Vec<Dialled>> = Dict::default(), omit;
        spend_limit: Dict<String, SpendWindow> = Dict::default(), omit;
        route_scan: Dict<String, ScanTarget> = Dict::default(), omit;
    }
);
