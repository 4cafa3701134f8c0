//! The event contract in Rust: a port of `streams.domain.events.decode_event_bytes` and
//! `record_events` (with `canonical=True`), which stay the reference. For any input bytes the port
//! accepts what the reference accepts, with the same field values, the same `event_time` and
//! `event_ident`, and the same bytes out (the input when nothing was changed, else msgspec's
//! re-encoding); it refuses what the reference refuses, with the same reason.
//!
//! The reference is msgspec 0.23 (`msgspec.json.Decoder(Event)`) plus the contract's own Python
//! (`check`, `_defused`, `_canonical`). `json.rs` reads JSON step for step as msgspec's C code
//! does, so syntax errors stop at the same byte with the same message; `time.rs` reads and writes
//! its datetimes; `fmt.rs` holds Python's float `repr`, `zlib.crc32` and `text.escape`. One thing
//! cannot be the same: Python refuses nesting at its recursion limit, which depends on how deep
//! the caller's stack is; the port refuses at a fixed depth ([`MAX_DEPTH`]).
//!
//! Not wired in yet: the shells keep decoding with msgspec until the detector itself is ported
//! (issue 29) and consumes [`Event`].

pub mod fmt;
pub mod json;
pub mod time;

use std::borrow::Cow;

use self::fmt::{crc32, escape, hostile, json_str, py_float_repr};
use self::json::{Fail, Num, Reader, Why, R};
pub use self::time::DateTime;
use self::time::{TimeError, MAX_MICROS, MIN_MICROS};
use crate::seclog::py::{canonical_ip, head, repr};

/// `MAX_EVENT_BYTES`.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// `MAX_BATCH`: events per batch record.
pub const MAX_BATCH: usize = 1 << 20;
/// Objects and arrays an event may nest (itself included) before it is refused as nested too
/// deeply. The reference has no fixed limit: msgspec raises RecursionError at Python's recursion
/// limit (1000) less the frames already on the stack. 996 is what it allows when `record_events`
/// is called from a module's top level (4 frames); a caller deeper in a stack refuses earlier.
pub const MAX_DEPTH: u32 = 996;
/// The same for the array of a batch record (`split_batch` runs one frame less deep).
pub const MAX_BATCH_DEPTH: u32 = 997;

macro_rules! literal {
    ($(#[$doc:meta])* $name:ident { $($var:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($var),+ }

        impl $name {
            pub const VALUES: &'static [&'static str] = &[$($text),+];
            const ALL: &'static [$name] = &[$($name::$var),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $text),+ }
            }

            fn from_index(i: u8) -> Self {
                Self::ALL[usize::from(i)]
            }
        }
    };
}

literal!(Phase { Start = "start", End = "end" });
literal!(Direction { Outbound = "outbound", Inbound = "inbound", Internal = "internal" });
literal!(Disposition { Answered = "answered", NoAnswer = "no_answer", Busy = "busy", Failed = "failed" });
literal!(Pin { Ok = "ok", Bad = "bad" });
literal!(Outcome { Success = "success", Failure = "failure", Request = "request" });
literal!(Protocol { Udp = "udp", Tcp = "tcp", Tls = "tls", Http = "http", Https = "https", Ws = "ws", Wss = "wss" });

/// A call detail record (`streams.domain.events.Cdr`). `tenant_given` says whether the input
/// named the tenant: msgspec writes a field back unless it *is* its default object, so a
/// `"tenant": "default"` the producer wrote is kept and a missing one is not.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdr {
    pub call_id: String,
    pub start: DateTime,
    pub src: String,
    pub dst: String,
    pub tenant: String,
    pub tenant_given: bool,
    pub phase: Phase,
    pub answer: Option<DateTime>,
    pub end: Option<DateTime>,
    pub duration: Option<f64>,
    pub billsec: Option<f64>,
    pub direction: Direction,
    pub trunk: Option<String>,
    pub route: Option<String>,
    pub disposition: Option<Disposition>,
    pub src_ip: Option<String>,
    pub user_agent: Option<String>,
    pub pin: Option<Pin>,
    pub cost: Option<f64>,
    pub forwarded_from: Option<String>,
    pub transferred_by: Option<String>,
    pub diversion: Option<String>,
}

/// A registration, login or request (`streams.domain.events.SecurityEvent`).
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    pub ts: DateTime,
    pub service: String,
    pub src_ip: String,
    pub outcome: Outcome,
    pub tenant: String,
    pub tenant_given: bool,
    pub action: Option<String>,
    pub account: Option<String>,
    pub user_agent: Option<String>,
    pub protocol: Option<Protocol>,
    pub port: Option<u16>,
    pub contact: Option<String>,
    pub reason: Option<String>,
    pub dialled: Option<String>,
    pub context: Option<String>,
    pub round_trip: Option<bool>,
}

/// The SOC lifting blocks (`streams.domain.events.Unblock`).
#[derive(Debug, Clone, PartialEq)]
pub struct Unblock {
    pub ts: DateTime,
    pub target: String,
    pub reason: String,
    pub tenant: String,
    pub tenant_given: bool,
    pub by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Cdr(Cdr),
    Security(SecurityEvent),
    Unblock(Unblock),
}

/// A field's value, as the reference's struct holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Time(DateTime),
    Float(f64),
    Int(i64),
    Bool(bool),
    None,
}

fn opt_str(v: &Option<String>) -> Value<'_> {
    v.as_deref().map_or(Value::None, Value::Str)
}

fn opt_time(v: Option<DateTime>) -> Value<'static> {
    v.map_or(Value::None, Value::Time)
}

fn opt_float(v: Option<f64>) -> Value<'static> {
    v.map_or(Value::None, Value::Float)
}

fn opt_lit(v: Option<&'static str>) -> Value<'static> {
    v.map_or(Value::None, Value::Str)
}

impl Event {
    /// The `type` tag.
    pub fn tag(&self) -> &'static str {
        match self {
            Event::Cdr(_) => "cdr",
            Event::Security(_) => "security",
            Event::Unblock(_) => "unblock",
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            Event::Cdr(e) => &e.tenant,
            Event::Security(e) => &e.tenant,
            Event::Unblock(e) => &e.tenant,
        }
    }

    /// Every field in the struct's order: its name, its value, and whether msgspec's encoder
    /// (`omit_defaults`) writes it.
    pub fn fields(&self) -> Vec<(&'static str, Value<'_>, bool)> {
        let mut out = Vec::with_capacity(21);
        // a None is its default (msgspec omits it); a literal or the tenant is written unless it is
        // the default object itself
        fn put<'a>(out: &mut Vec<(&'static str, Value<'a>, bool)>, name: &'static str, v: Value<'a>) {
            out.push((name, v, !matches!(v, Value::None)));
        }
        match self {
            Event::Cdr(e) => {
                put(&mut out, "call_id", Value::Str(&e.call_id));
                put(&mut out, "start", Value::Time(e.start));
                put(&mut out, "src", Value::Str(&e.src));
                put(&mut out, "dst", Value::Str(&e.dst));
                out.push(("tenant", Value::Str(&e.tenant), e.tenant_given));
                out.push(("phase", Value::Str(e.phase.as_str()), e.phase != Phase::End));
                put(&mut out, "answer", opt_time(e.answer));
                put(&mut out, "end", opt_time(e.end));
                put(&mut out, "duration", opt_float(e.duration));
                put(&mut out, "billsec", opt_float(e.billsec));
                out.push(("direction", Value::Str(e.direction.as_str()), e.direction != Direction::Outbound));
                put(&mut out, "trunk", opt_str(&e.trunk));
                put(&mut out, "route", opt_str(&e.route));
                put(&mut out, "disposition", opt_lit(e.disposition.map(Disposition::as_str)));
                put(&mut out, "src_ip", opt_str(&e.src_ip));
                put(&mut out, "user_agent", opt_str(&e.user_agent));
                put(&mut out, "pin", opt_lit(e.pin.map(Pin::as_str)));
                put(&mut out, "cost", opt_float(e.cost));
                put(&mut out, "forwarded_from", opt_str(&e.forwarded_from));
                put(&mut out, "transferred_by", opt_str(&e.transferred_by));
                put(&mut out, "diversion", opt_str(&e.diversion));
            }
            Event::Security(e) => {
                put(&mut out, "ts", Value::Time(e.ts));
                put(&mut out, "service", Value::Str(&e.service));
                put(&mut out, "src_ip", Value::Str(&e.src_ip));
                put(&mut out, "outcome", Value::Str(e.outcome.as_str()));
                out.push(("tenant", Value::Str(&e.tenant), e.tenant_given));
                put(&mut out, "action", opt_str(&e.action));
                put(&mut out, "account", opt_str(&e.account));
                put(&mut out, "user_agent", opt_str(&e.user_agent));
                put(&mut out, "protocol", opt_lit(e.protocol.map(Protocol::as_str)));
                put(&mut out, "port", e.port.map_or(Value::None, |p| Value::Int(i64::from(p))));
                put(&mut out, "contact", opt_str(&e.contact));
                put(&mut out, "reason", opt_str(&e.reason));
                put(&mut out, "dialled", opt_str(&e.dialled));
                put(&mut out, "context", opt_str(&e.context));
                put(&mut out, "round_trip", e.round_trip.map_or(Value::None, Value::Bool));
            }
            Event::Unblock(e) => {
                put(&mut out, "ts", Value::Time(e.ts));
                put(&mut out, "target", Value::Str(&e.target));
                put(&mut out, "reason", Value::Str(&e.reason));
                out.push(("tenant", Value::Str(&e.tenant), e.tenant_given));
                put(&mut out, "by", opt_str(&e.by));
            }
        }
        out
    }

    /// The str fields, to escape (the literals never hold an unsafe character).
    fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut out: Vec<&mut String> = Vec::with_capacity(16);
        match self {
            Event::Cdr(e) => {
                out.extend([&mut e.call_id, &mut e.src, &mut e.dst, &mut e.tenant]);
                out.extend(
                    [&mut e.trunk, &mut e.route, &mut e.src_ip, &mut e.user_agent, &mut e.forwarded_from,
                     &mut e.transferred_by, &mut e.diversion].into_iter().flatten(),
                );
            }
            Event::Security(e) => {
                out.extend([&mut e.service, &mut e.src_ip, &mut e.tenant]);
                out.extend(
                    [&mut e.action, &mut e.account, &mut e.user_agent, &mut e.contact, &mut e.reason, &mut e.dialled,
                     &mut e.context].into_iter().flatten(),
                );
            }
            Event::Unblock(e) => {
                out.extend([&mut e.target, &mut e.reason, &mut e.tenant]);
                out.extend(e.by.as_mut());
            }
        }
        out
    }

    /// `msgspec.json.encode(event)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(self.tag().as_bytes());
        out.push(b'"');
        for (name, v, written) in self.fields() {
            if !written {
                continue;
            }
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            match v {
                Value::Str(s) => json_str(&mut out, s),
                Value::Time(t) => {
                    out.push(b'"');
                    out.extend_from_slice(t.msgspec().as_bytes());
                    out.push(b'"');
                }
                Value::Float(x) => out.extend_from_slice(crate::window::msgspec_float(x).as_bytes()),
                Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
                Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Value::None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        out
    }

    /// `event_time(event)`: epoch seconds of a security event's `ts`, a CDR's start (phase start)
    /// or end (its `end`, else start + duration, else start).
    pub fn time(&self) -> f64 {
        match self {
            Event::Security(e) => e.ts.timestamp(),
            Event::Unblock(e) => e.ts.timestamp(),
            Event::Cdr(e) => {
                if e.phase == Phase::End {
                    if let Some(end) = e.end {
                        return end.timestamp();
                    }
                    if let Some(d) = e.duration {
                        return e.start.timestamp() + d;
                    }
                }
                e.start.timestamp()
            }
        }
    }

    /// `event_ident(event)`: crc32 of the call id, or of the fields that tell two security
    /// events (or unblocks) apart, written as the reference's f-string writes them.
    pub fn ident(&self) -> u32 {
        fn ts(out: &mut String, t: DateTime) {
            if !time::push_timestamp_repr(out, t.micros()) {
                out.push_str(&py_float_repr(t.timestamp()));
            }
        }
        fn field(out: &mut String, v: &Option<String>) {
            out.push('|');
            out.push_str(v.as_deref().unwrap_or("None"));
        }
        let mut s = String::with_capacity(128);
        match self {
            Event::Cdr(e) => return crc32(e.call_id.as_bytes()),
            Event::Unblock(e) => {
                s.push_str("unblock|");
                ts(&mut s, e.ts);
                s.push('|');
                s.push_str(&e.target);
                field(&mut s, &e.by);
            }
            Event::Security(e) => {
                use std::fmt::Write;
                ts(&mut s, e.ts);
                s.push('|');
                s.push_str(&e.src_ip);
                field(&mut s, &e.account);
                field(&mut s, &e.action);
                s.push('|');
                s.push_str(e.outcome.as_str());
                s.push('|');
                s.push_str(&e.service);
                s.push('|');
                match e.port {
                    Some(p) => {
                        let _ = write!(s, "{p}");
                    }
                    None => s.push_str("None"),
                }
                field(&mut s, &e.contact);
            }
        }
        crc32(s.as_bytes())
    }

    /// `check()`: what the schema cannot say (its message, before " - at `$`").
    fn check(&self) -> Result<(), String> {
        match self {
            Event::Cdr(e) => {
                if let Some(ip) = &e.src_ip {
                    check_ip(ip, "src_ip")?;
                }
                check_time(e.start, "start")?;
                if let Some(end) = e.end {
                    check_time(end, "end")?;
                    if end.micros() < e.start.micros() {
                        return Err("`end` is before `start`".to_string());
                    }
                }
                if let Some(answer) = e.answer {
                    check_time(answer, "answer")?;
                }
                Ok(())
            }
            Event::Security(e) => {
                check_ip(&e.src_ip, "src_ip")?;
                check_time(e.ts, "ts")
            }
            Event::Unblock(e) => check_time(e.ts, "ts"),
        }
    }

    /// `_canonical`: an IPv6 source address in its one spelling. True when it changed.
    fn canonical(&mut self) -> bool {
        let ip = match self {
            Event::Cdr(e) => e.src_ip.as_mut(),
            Event::Security(e) => Some(&mut e.src_ip),
            Event::Unblock(_) => None,
        };
        if let Some(ip) = ip {
            if !ip.is_empty() && ip.contains(':') {
                if let Some(canon) = canonical_ip(ip) {
                    if canon != *ip {
                        *ip = canon;
                        return true;
                    }
                }
            }
        }
        false
    }
}

fn check_time(t: DateTime, field: &str) -> Result<(), String> {
    let m = t.micros();
    if !(MIN_MICROS..MAX_MICROS).contains(&m) {
        return Err(format!("`{field}` is out of range ({}): expected 1971 to 2199", t.isoformat()));
    }
    Ok(())
}

/// `ipaddress.ip_address(text)` succeeds (an IPv6 scope id, `%` and at least one character that
/// is not `%`, is allowed here, as Python allows it).
fn parses_as_ip(text: &str) -> bool {
    if dotted_quad(text.as_bytes()) || crate::seclog::py::ipv4(text).is_some() {
        return true;
    }
    if text.contains('/') {
        return false;
    }
    match text.split_once('%') {
        Some((addr, scope)) => !scope.is_empty() && !scope.contains('%') && crate::seclog::py::ipv6(addr).is_some(),
        None => crate::seclog::py::ipv6(text).is_some(),
    }
}

/// The common case of `IPv4Address(text)` without allocating: four dot-separated ASCII decimal
/// octets of 1 to 3 digits, no leading zero, each at most 255. (A false here is no verdict: the
/// full reading follows.)
fn dotted_quad(b: &[u8]) -> bool {
    let mut octets = 0;
    let mut i = 0;
    while i <= b.len() {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let n = i - start;
        if n == 0 || v > 255 || (n > 1 && b[start] == b'0') {
            return false;
        }
        octets += 1;
        if i == b.len() {
            return octets == 4;
        }
        if b[i] != b'.' || octets == 4 {
            return false;
        }
        i += 1;
    }
    false
}

fn check_ip(value: &str, field: &str) -> Result<(), String> {
    if !parses_as_ip(value) {
        return Err(format!("`{field}` is not an IP address: {}", repr(head(value, 64))));
    }
    if value.contains('%') {
        return Err(format!(
            "`{field}` carries an IPv6 scope id (%\u{2026}), an interface name, not part of an address: {}",
            repr(head(value, 64))
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ the schema

#[derive(Clone, Copy)]
enum Ty {
    Text { min: usize, max: usize, null: bool },
    Time { null: bool },
    Float { ge: f64, le: Option<f64> },
    Int { ge: i64, le: i64 },
    Bool,
    Lit { values: &'static [&'static str], null: bool },
}

impl Ty {
    /// msgspec's name of the type in "Expected `...`".
    fn repr(self) -> &'static str {
        match self {
            Ty::Text { null: false, .. } | Ty::Lit { null: false, .. } => "str",
            Ty::Text { null: true, .. } | Ty::Lit { null: true, .. } => "str | null",
            Ty::Time { null: false } => "datetime",
            Ty::Time { null: true } => "datetime | null",
            Ty::Float { .. } => "float | null",
            Ty::Int { .. } => "int | null",
            Ty::Bool => "bool | null",
        }
    }

    fn nullable(self) -> bool {
        match self {
            Ty::Text { null, .. } | Ty::Time { null } | Ty::Lit { null, .. } => null,
            Ty::Float { .. } | Ty::Int { .. } | Ty::Bool => true,
        }
    }
}

const TEXT: Ty = Ty::Text { min: 1, max: 256, null: false };
const OPT_TEXT: Ty = Ty::Text { min: 0, max: 512, null: true };
const TIME: Ty = Ty::Time { null: false };
const OPT_TIME: Ty = Ty::Time { null: true };
const SECONDS: Ty = Ty::Float { ge: 0.0, le: Some(10_000_000.0) };

struct Field {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: true }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: false }
}

static CDR: [Field; 21] = [
    req("call_id", TEXT),
    req("start", TIME),
    req("src", TEXT),
    req("dst", Ty::Text { min: 0, max: 256, null: false }),
    opt("tenant", TEXT),
    opt("phase", Ty::Lit { values: Phase::VALUES, null: false }),
    opt("answer", OPT_TIME),
    opt("end", OPT_TIME),
    opt("duration", SECONDS),
    opt("billsec", SECONDS),
    opt("direction", Ty::Lit { values: Direction::VALUES, null: false }),
    opt("trunk", OPT_TEXT),
    opt("route", OPT_TEXT),
    opt("disposition", Ty::Lit { values: Disposition::VALUES, null: true }),
    opt("src_ip", OPT_TEXT),
    opt("user_agent", OPT_TEXT),
    opt("pin", Ty::Lit { values: Pin::VALUES, null: true }),
    opt("cost", Ty::Float { ge: 0.0, le: None }),
    opt("forwarded_from", OPT_TEXT),
    opt("transferred_by", OPT_TEXT),
    opt("diversion", OPT_TEXT),
];

static SECURITY: [Field; 15] = [
    req("ts", TIME),
    req("service", TEXT),
    req("src_ip", TEXT),
    req("outcome", Ty::Lit { values: Outcome::VALUES, null: false }),
    opt("tenant", TEXT),
    opt("action", OPT_TEXT),
    opt("account", OPT_TEXT),
    opt("user_agent", OPT_TEXT),
    opt("protocol", Ty::Lit { values: Protocol::VALUES, null: true }),
    opt("port", Ty::Int { ge: 0, le: 65535 }),
    opt("contact", OPT_TEXT),
    opt("reason", OPT_TEXT),
    opt("dialled", OPT_TEXT),
    opt("context", OPT_TEXT),
    opt("round_trip", Ty::Bool),
];

static UNBLOCK: [Field; 5] = [
    req("ts", TIME),
    req("target", TEXT),
    req("reason", TEXT),
    opt("tenant", TEXT),
    opt("by", OPT_TEXT),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cdr,
    Security,
    Unblock,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Cdr => b"cdr",
            Kind::Security => b"security",
            Kind::Unblock => b"unblock",
        }
    }

    /// The position of the field a key names (a match: the compiler sorts it by length first).
    fn index(self, key: &[u8]) -> Option<usize> {
        let i = match self {
            Kind::Cdr => match key {
                b"call_id" => 0,
                b"start" => 1,
                b"src" => 2,
                b"dst" => 3,
                b"tenant" => 4,
                b"phase" => 5,
                b"answer" => 6,
                b"end" => 7,
                b"duration" => 8,
                b"billsec" => 9,
                b"direction" => 10,
                b"trunk" => 11,
                b"route" => 12,
                b"disposition" => 13,
                b"src_ip" => 14,
                b"user_agent" => 15,
                b"pin" => 16,
                b"cost" => 17,
                b"forwarded_from" => 18,
                b"transferred_by" => 19,
                b"diversion" => 20,
                _ => return None,
            },
            Kind::Security => match key {
                b"ts" => 0,
                b"service" => 1,
                b"src_ip" => 2,
                b"outcome" => 3,
                b"tenant" => 4,
                b"action" => 5,
                b"account" => 6,
                b"user_agent" => 7,
                b"protocol" => 8,
                b"port" => 9,
                b"contact" => 10,
                b"reason" => 11,
                b"dialled" => 12,
                b"context" => 13,
                b"round_trip" => 14,
                _ => return None,
            },
            Kind::Unblock => match key {
                b"ts" => 0,
                b"target" => 1,
                b"reason" => 2,
                b"tenant" => 3,
                b"by" => 4,
                _ => return None,
            },
        };
        Some(i)
    }

    fn fields(self) -> &'static [Field] {
        match self {
            Kind::Cdr => &CDR,
            Kind::Security => &SECURITY,
            Kind::Unblock => &UNBLOCK,
        }
    }
}

/// A decoded field before the struct is built.
#[derive(Debug)]
enum Val {
    Null,
    Str(String),
    Time(DateTime),
    Float(f64),
    Int(i64),
    Bool(bool),
    Lit(u8),
}

fn invalid(msg: String) -> Fail {
    Fail::invalid(msg)
}

fn utf8(s: Cow<'_, [u8]>) -> R<String> {
    String::from_utf8(s.into_owned()).map_err(|_| Fail::decode("Invalid UTF-8 encoded string"))
}

/// A value of a type that does not take it, read as far as msgspec reads it before it says so.
fn mismatch(r: &mut Reader<'_>, c: u8, repr: &str, at: &str) -> Fail {
    let got = match c {
        b'n' => r.literal(b"ull").map(|()| "null"),
        b't' => r.literal(b"rue").map(|()| "bool"),
        b'f' => r.literal(b"alse").map(|()| "bool"),
        b'[' => Ok("array"),
        b'{' => Ok("object"),
        b'"' => r.string().map(|_| "str"),
        _ => match r.number() {
            Ok(Num::UInt(_) | Num::Int(_)) => Ok("int"),
            Ok(Num::Big { value, .. } | Num::Float(value)) if value.is_infinite() => {
                return invalid(format!("Number out of range{at}"));
            }
            Ok(_) => Ok("float"),
            Err(e) => Err(e),
        },
    };
    match got {
        Ok(got) => invalid(format!("Expected `{repr}`, got `{got}`{at}")),
        Err(e) => e,
    }
}

#[allow(clippy::neg_cmp_op_on_partial_ord)] // msgspec's own test: `ok = x >= c`, then `!ok`
fn float_field(x: f64, ge: f64, le: Option<f64>, at: &At<'_>) -> R<Val> {
    if x.is_infinite() {
        return Err(invalid(format!("Number out of range{at}")));
    }
    if !(x >= ge) {
        return Err(invalid(format!("Expected `float` >= {}{at}", py_float_repr(ge))));
    }
    if let Some(le) = le {
        if !(x <= le) {
            return Err(invalid(format!("Expected `float` <= {}{at}", py_float_repr(le))));
        }
    }
    Ok(Val::Float(x))
}

fn int_field(x: i128, ge: i64, le: i64, at: &At<'_>) -> R<Val> {
    if x < i128::from(ge) {
        return Err(invalid(format!("Expected `int` >= {ge}{at}")));
    }
    if x > i128::from(le) {
        return Err(invalid(format!("Expected `int` <= {le}{at}")));
    }
    Ok(Val::Int(x as i64))
}

/// The path suffix of a field's errors (" - at `$.name`"), written only when there is an error.
struct At<'a>(&'a str);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " - at `$.{}`", self.0)
    }
}

/// One field's value (`json_decode` with the field's type).
fn value(r: &mut Reader<'_>, ty: Ty, name: &str) -> R<Val> {
    let at = At(name);
    let c = r.peek_ws()?;
    match (c, ty) {
        (b'n', _) if ty.nullable() => {
            r.literal(b"ull")?;
            Ok(Val::Null)
        }
        (b't' | b'f', Ty::Bool) => {
            r.literal(if c == b't' { b"rue" } else { b"alse" })?;
            Ok(Val::Bool(c == b't'))
        }
        (b'"', Ty::Text { min, max, .. }) => {
            let s = utf8(r.string()?)?;
            // characters, as msgspec counts (no more than the bytes: count them only when needed)
            let n = if s.len() <= max { s.len().min(min) } else { s.chars().count() };
            if n < min {
                return Err(invalid(format!("Expected `str` of length >= {min}{at}")));
            }
            if n > max {
                return Err(invalid(format!("Expected `str` of length <= {max}{at}")));
            }
            Ok(Val::Str(s))
        }
        (b'"', Ty::Time { .. }) => match DateTime::parse(&r.string()?) {
            Ok(t) => Ok(Val::Time(t)),
            Err(TimeError::Invalid) => Err(invalid(format!("Invalid RFC3339 encoded datetime{at}"))),
            Err(TimeError::Naive) => Err(invalid(format!("Expected `datetime` with a timezone component{at}"))),
        },
        (b'"', Ty::Lit { values, .. }) => {
            let s = r.string()?;
            match values.iter().position(|v| v.as_bytes() == &*s) {
                Some(i) => Ok(Val::Lit(i as u8)),
                None => Err(invalid(format!("Invalid enum value {}{at}", repr(&utf8(s)?)))),
            }
        }
        (b'n' | b't' | b'f' | b'[' | b'{' | b'"', _) => Err(mismatch(r, c, ty.repr(), &at.to_string())),
        (_, Ty::Int { ge, le }) => match r.number()? {
            Num::UInt(u) => int_field(i128::from(u), ge, le, &at),
            Num::Int(i) => int_field(i128::from(i), ge, le, &at),
            Num::Big { size, .. } if size > 4300 => Err(invalid(format!("Integer value out of range{at}"))),
            Num::Big { negative: true, .. } => Err(invalid(format!("Expected `int` >= {ge}{at}"))),
            Num::Big { negative: false, .. } => Err(invalid(format!("Expected `int` <= {le}{at}"))),
            Num::Float(x) if x.is_infinite() => Err(invalid(format!("Number out of range{at}"))),
            Num::Float(_) => Err(invalid(format!("Expected `{}`, got `float`{at}", ty.repr()))),
        },
        (_, Ty::Float { ge, le }) => match r.number()? {
            Num::UInt(u) => float_field(u as f64, ge, le, &at),
            Num::Int(i) => float_field(i as f64, ge, le, &at),
            Num::Big { value, .. } | Num::Float(value) => float_field(value, ge, le, &at),
        },
        _ => Err(mismatch(r, c, ty.repr(), &at.to_string())),
    }
}

fn invalid_value(s: Cow<'_, [u8]>, at: &str) -> Fail {
    match utf8(s) {
        Ok(s) => invalid(format!("Invalid value '{s}'{at}")),
        Err(e) => e,
    }
}

const AT_TYPE: &str = " - at `$.type`";

/// `json_decode_cstr` of the tag: a non-string is skipped (for its syntax) and refused.
fn tag_string<'a>(r: &mut Reader<'a>) -> R<Cow<'a, [u8]>> {
    if r.peek_ws()? != b'"' {
        r.skip()?;
        return Err(invalid(format!("Expected `str`{AT_TYPE}")));
    }
    r.string()
}

fn key<'a>(r: &mut Reader<'a>, c: u8) -> R<Cow<'a, [u8]>> {
    match c {
        b'"' => r.string(),
        b'}' => Err(r.malformed("trailing comma in object")),
        _ => Err(r.malformed("object keys must be strings")),
    }
}

fn colon(r: &mut Reader<'_>) -> R<()> {
    if r.peek_ws()? != b':' {
        return Err(r.malformed("expected ':'"));
    }
    r.pos += 1;
    Ok(())
}

/// `json_decode_struct_union`: find the tag (skipping what comes before it), then read the
/// struct from the start (or on from the tag when it came first).
fn union(r: &mut Reader<'_>) -> R<Event> {
    r.pos += 1;
    let orig = r.pos;
    let mut i = 0usize;
    loop {
        let mut c = r.peek_ws()?;
        if c == b'}' {
            r.pos += 1;
            break;
        } else if c == b',' && i != 0 {
            r.pos += 1;
            c = r.peek_ws()?;
        } else if i != 0 {
            return Err(r.malformed("expected ',' or '}'"));
        }
        let k = key(r, c)?;
        let is_tag = &*k == b"type";
        colon(r)?;
        if is_tag {
            let tag = tag_string(r)?;
            let kind = match &*tag {
                b"cdr" => Kind::Cdr,
                b"security" => Kind::Security,
                b"unblock" => Kind::Unblock,
                _ => return Err(invalid_value(tag, AT_TYPE)),
            };
            if i != 0 {
                r.pos = orig;
            }
            return structure(r, kind, i == 0);
        }
        r.skip()?;
        i += 1;
    }
    Err(invalid("Object missing required field `type`".to_string()))
}

/// `json_decode_struct_map_inner`: the fields in any order (the last of a repeated key wins),
/// unknown ones skipped, a repeated tag checked again.
fn structure(r: &mut Reader<'_>, kind: Kind, tag_first: bool) -> R<Event> {
    r.enter()?;
    let fields = kind.fields();
    let mut slots: [Option<Val>; 21] = Default::default();
    let mut first = !tag_first;
    loop {
        let mut c = r.peek_ws()?;
        if c == b'}' {
            r.pos += 1;
            break;
        } else if c == b',' && !first {
            r.pos += 1;
            c = r.peek_ws()?;
        } else if first {
            first = false;
        } else {
            return Err(r.malformed("expected ',' or '}'"));
        }
        let k = key(r, c)?;
        colon(r)?;
        if let Some(i) = kind.index(&k) {
            slots[i] = Some(value(r, fields[i].ty, fields[i].name)?);
        } else if &*k == b"type" {
            let tag = tag_string(r)?;
            if &*tag != kind.tag() {
                return Err(invalid_value(tag, AT_TYPE));
            }
        } else {
            r.skip()?;
        }
    }
    for (f, slot) in fields.iter().zip(&slots) {
        if f.required && slot.is_none() {
            return Err(invalid(format!("Object missing required field `{}`", f.name)));
        }
    }
    r.leave();
    Ok(build(kind, &mut slots))
}

fn build(kind: Kind, s: &mut [Option<Val>; 21]) -> Event {
    let mut take = |i: usize| s[i].take();
    fn text(v: Option<Val>) -> Option<String> {
        match v {
            Some(Val::Str(s)) => Some(s),
            _ => None,
        }
    }
    fn time(v: Option<Val>) -> Option<DateTime> {
        match v {
            Some(Val::Time(t)) => Some(t),
            _ => None,
        }
    }
    fn float(v: Option<Val>) -> Option<f64> {
        match v {
            Some(Val::Float(x)) => Some(x),
            _ => None,
        }
    }
    fn lit(v: Option<Val>) -> Option<u8> {
        match v {
            Some(Val::Lit(i)) => Some(i),
            _ => None,
        }
    }
    fn tenant(v: Option<Val>) -> (String, bool) {
        match text(v) {
            Some(t) => (t, true),
            None => ("default".to_string(), false),
        }
    }
    let req = |v: Option<Val>| text(v).expect("a required field was checked");
    let req_time = |v: Option<Val>| time(v).expect("a required field was checked");
    match kind {
        Kind::Cdr => {
            let (call_id, start, src, dst) = (req(take(0)), req_time(take(1)), req(take(2)), req(take(3)));
            let (tenant, tenant_given) = tenant(take(4));
            Event::Cdr(Cdr {
                call_id,
                start,
                src,
                dst,
                tenant,
                tenant_given,
                phase: lit(take(5)).map_or(Phase::End, Phase::from_index),
                answer: time(take(6)),
                end: time(take(7)),
                duration: float(take(8)),
                billsec: float(take(9)),
                direction: lit(take(10)).map_or(Direction::Outbound, Direction::from_index),
                trunk: text(take(11)),
                route: text(take(12)),
                disposition: lit(take(13)).map(Disposition::from_index),
                src_ip: text(take(14)),
                user_agent: text(take(15)),
                pin: lit(take(16)).map(Pin::from_index),
                cost: float(take(17)),
                forwarded_from: text(take(18)),
                transferred_by: text(take(19)),
                diversion: text(take(20)),
            })
        }
        Kind::Security => {
            let (ts, service, src_ip) = (req_time(take(0)), req(take(1)), req(take(2)));
            let outcome = Outcome::from_index(lit(take(3)).expect("a required field was checked"));
            let (tenant, tenant_given) = tenant(take(4));
            Event::Security(SecurityEvent {
                ts,
                service,
                src_ip,
                outcome,
                tenant,
                tenant_given,
                action: text(take(5)),
                account: text(take(6)),
                user_agent: text(take(7)),
                protocol: lit(take(8)).map(Protocol::from_index),
                port: match take(9) {
                    Some(Val::Int(p)) => Some(p as u16),
                    _ => None,
                },
                contact: text(take(10)),
                reason: text(take(11)),
                dialled: text(take(12)),
                context: text(take(13)),
                round_trip: match take(14) {
                    Some(Val::Bool(b)) => Some(b),
                    _ => None,
                },
            })
        }
        Kind::Unblock => {
            let (ts, target, reason) = (req_time(take(0)), req(take(1)), req(take(2)));
            let (tenant, tenant_given) = tenant(take(3));
            Event::Unblock(Unblock { ts, target, reason, tenant, tenant_given, by: text(take(4)) })
        }
    }
}

/// `_decoder.decode(raw)`: msgspec's reading of one event, before the contract's own checks.
pub fn decode_json(raw: &[u8]) -> Result<Event, Fail> {
    let mut r = Reader::new(raw, MAX_DEPTH);
    let c = r.peek_ws()?;
    if c != b'{' {
        return Err(mismatch(&mut r, c, "object", ""));
    }
    let ev = union(&mut r)?;
    r.trailing()?;
    Ok(ev)
}

/// `_explain`: a tag problem says which tags there are.
fn explain(msg: String) -> String {
    if msg.contains("required field `type`") || msg.contains("`$.type`") {
        msg + " (expected \"type\": \"cdr\" or \"security\")"
    } else {
        msg
    }
}

fn reason(fail: Fail) -> String {
    match *fail.0 {
        Why::Decode(m) => format!("not valid JSON: {m}"),
        Why::Invalid(m) => explain(m),
        Why::Deep => "not valid JSON: nested too deeply".to_string(),
    }
}

/// `decode_event_bytes(raw)`: the event and the bytes that read back as it (the input itself
/// unless text had to be escaped or an address respelled), or the reason it is refused.
pub fn decode_event_bytes(raw: &[u8]) -> Result<(Event, Cow<'_, [u8]>), String> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(format!("event is {} bytes; at most {MAX_EVENT_BYTES} are accepted", raw.len()));
    }
    let mut ev = decode_json(raw).map_err(reason)?;
    ev.check().map_err(|m| format!("{m} - at `$`"))?;
    let mut altered = false;
    if hostile(raw) {
        for text in ev.texts_mut() {
            if let Some(clean) = escape(text) {
                *text = clean;
                altered = true;
            }
        }
    }
    altered |= ev.canonical();
    let out = if altered { Cow::Owned(ev.encode()) } else { Cow::Borrowed(raw) };
    Ok((ev, out))
}

/// `is_batch`: the record's first byte after ASCII whitespace (Python's `bytes.lstrip`) is `[`.
pub fn is_batch(raw: &[u8]) -> bool {
    raw.iter().find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) == Some(&b'[')
}

/// `split_batch`: the byte ranges of a batch record's elements (`list[msgspec.Raw]`), or the reason
/// the record is refused as a whole.
pub fn split_batch(raw: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
    let split = || -> R<Vec<std::ops::Range<usize>>> {
        let mut r = Reader::new(raw, MAX_BATCH_DEPTH);
        let c = r.peek_ws()?;
        if c != b'[' {
            return Err(mismatch(&mut r, c, "array", ""));
        }
        r.pos += 1;
        r.enter()?;
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let mut c = r.peek_ws()?;
            if c == b']' {
                r.pos += 1;
                break;
            } else if c == b',' && !first {
                r.pos += 1;
                c = r.peek_ws()?;
            } else if first {
                first = false;
            } else {
                return Err(r.malformed("expected ',' or ']'"));
            }
            if c == b']' {
                return Err(r.malformed("trailing comma in array"));
            }
            let start = r.pos;
            r.skip()?;
            items.push(start..r.pos);
        }
        r.leave();
        r.trailing()?;
        Ok(items)
    };
    let items = split().map_err(|f| match *f.0 {
        Why::Decode(m) | Why::Invalid(m) => format!("batch record is not a JSON array of events: {m}"),
        Why::Deep => "batch record is not a JSON array of events: nested too deeply".to_string(),
    })?;
    if items.len() > MAX_BATCH {
        return Err(format!("batch record holds {} events; at most {MAX_BATCH} are accepted", items.len()));
    }
    Ok(items)
}

/// One event of a record, judged alone (`record_events(raw, canonical=True)`'s items).
pub struct Item<'a> {
    /// Its position in a batch record; None for a record that is one event.
    pub index: Option<usize>,
    /// Its bytes: `decode_event_bytes`'s when accepted, the input's when refused.
    pub bytes: Cow<'a, [u8]>,
    /// The event, or the reason it is refused (prefixed with its place in a batch).
    pub event: Result<Event, String>,
}

fn judge(index: Option<usize>, item: &[u8]) -> Item<'_> {
    match decode_event_bytes(item) {
        Ok((event, bytes)) => Item { index, bytes, event: Ok(event) },
        Err(why) => Item {
            index,
            bytes: Cow::Borrowed(item),
            event: Err(match index {
                None => why,
                Some(i) => format!("event [{i}] of the batch: {why}"),
            }),
        },
    }
}

/// `record_events(raw, canonical=True)`: each event of one input record, or (Err) the reason a
/// batch record cannot be split at all.
pub fn record_events(raw: &[u8]) -> Result<Vec<Item<'_>>, String> {
    if !is_batch(raw) {
        return Ok(vec![judge(None, raw)]);
    }
    Ok(split_batch(raw)?.into_iter().enumerate().map(|(i, range)| judge(Some(i), &raw[range])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: &str = r#"{"type":"security","ts":"2026-03-04T10:00:00.25Z","service":"sip","src_ip":"203.0.113.7","outcome":"failure","port":5060}"#;

    fn why(raw: &str) -> String {
        decode_event_bytes(raw.as_bytes()).expect_err("refused")
    }

    #[test]
    fn dotted_quads_are_python_s() {
        for (text, ok) in [("1.2.3.4", true), ("0.0.0.0", true), ("255.255.255.255", true), ("256.1.1.1", false),
                           ("01.2.3.4", false), ("1.2.3", false), ("1.2.3.4.", false), ("1.2.3.4.5", false),
                           ("1..3.4", false), ("1234.1.1.1", false), ("1.2.3.4 ", false), ("", false), (".1.2.3", false)] {
            assert_eq!(dotted_quad(text.as_bytes()), ok, "{text}");
            assert_eq!(crate::seclog::py::ipv4(text).is_some(), ok, "{text}");
        }
    }

    #[test]
    fn the_key_index_is_the_field_table_s() {
        for kind in [Kind::Cdr, Kind::Security, Kind::Unblock] {
            for (i, f) in kind.fields().iter().enumerate() {
                assert_eq!(kind.index(f.name.as_bytes()), Some(i));
            }
            assert_eq!(kind.index(b"type"), None);
        }
    }

    #[test]
    fn accepts_and_keeps_the_bytes() {
        let (ev, out) = decode_event_bytes(SEC.as_bytes()).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(ev.time(), 1772618400.25);
        // zlib.crc32(b"1772618400.25|203.0.113.7|None|None|failure|sip|5060|None")
        assert_eq!(ev.ident(), 0x534c_47be);
        // msgspec writes microseconds as six digits
        assert_eq!(ev.encode(), SEC.replace(".25Z", ".250000Z").as_bytes());
    }

    #[test]
    fn refuses_with_the_reference_s_reasons() {
        assert_eq!(why("{"), "not valid JSON: Input data was truncated");
        assert_eq!(why("[]"), "Expected `object`, got `array`");
        assert_eq!(why(r#"{"type":"fax"}"#), "Invalid value 'fax' - at `$.type` (expected \"type\": \"cdr\" or \"security\")");
        assert_eq!(why(r#"{"type":"cdr","call_id":1}"#), "Expected `str`, got `int` - at `$.call_id`");
        assert_eq!(why(r#"{"type":"cdr"}"#), "Object missing required field `call_id`");
        assert_eq!(why(&SEC.replace("\"sip\"", "\"sip\" x")), "not valid JSON: JSON is malformed: expected ',' or '}' (byte 66)");
        assert_eq!(why(&SEC.replace("203.0.113.7", "fe80::1%eth0")),
                   "`src_ip` carries an IPv6 scope id (%\u{2026}), an interface name, not part of an address: 'fe80::1%eth0' - at `$`");
        assert_eq!(why(&SEC.replace("2026", "1970")),
                   "`ts` is out of range (1970-03-04T10:00:00.250000+00:00): expected 1971 to 2199 - at `$`");
        assert_eq!(why(&SEC.replace("5060", "70000")), "Expected `int` <= 65535 - at `$.port`");
        assert_eq!(why(&SEC.replace("\"failure\"", "\"maybe\"")), "Invalid enum value 'maybe' - at `$.outcome`");
    }

    #[test]
    fn defuses_and_respells() {
        let raw = SEC.replace("203.0.113.7", "::FFFF:1.2.3.4").replace("\"sip\"", "\"s\\u202eip\"");
        let (_, out) = decode_event_bytes(raw.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(out.into_owned()).unwrap(),
                   SEC.replace("203.0.113.7", "1.2.3.4").replace("\"sip\"", "\"s\\\\u202eip\"").replace(".25Z", ".250000Z"));
    }

    #[test]
    fn batches_are_split_as_the_reference_splits_them() {
        let raw = format!(" [{SEC}, 1 ,{{}}]");
        let items = record_events(raw.as_bytes()).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(&*items[1].bytes, b"1");
        assert_eq!(items[1].event.as_ref().err().unwrap(), "event [1] of the batch: Expected `object`, got `int`");
        assert_eq!(record_events(b"[1,]").err().unwrap(),
                   "batch record is not a JSON array of events: JSON is malformed: trailing comma in array (byte 3)");
        assert_eq!(record_events(b"{}").unwrap()[0].event.as_ref().err().unwrap(),
                   "Object missing required field `type` (expected \"type\": \"cdr\" or \"security\")");
    }

    #[test]
    fn nesting_is_refused_past_the_limit() {
        let nest = |n: usize| format!("{},\"x\":{}{}}}", &SEC[..SEC.len() - 1], "[".repeat(n), "]".repeat(n));
        assert!(decode_event_bytes(nest(MAX_DEPTH as usize - 1).as_bytes()).is_ok());
        assert_eq!(why(&nest(MAX_DEPTH as usize)), "not valid JSON: nested too deeply");
    }
}
