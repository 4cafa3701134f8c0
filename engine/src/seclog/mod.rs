//! PBX security log lines to security events: a port of `streams/intake/seclog.py`, which stays the
//! reference. Its output is the same for every line: the same event (keys, values, their order, the
//! `ts` text), the same skip, the same reject reason, and the same reading state after it.
//!
//! The address is taken only from where the PBX writes it, as the reference's docstring says (the
//! parsers in `asterisk.rs`, `freeswitch.rs` and `kamailio.rs` follow the reference function by function). Python's own text rules
//! (`re`'s `\w`/`\d`/`\s`, `strip`, `repr`, `ipaddress`) are in `py.rs`, its aware datetimes in `time.rs`.
//! Patterns run on the `regex` crate (linear time on a 1 MB line); the reference's one lookahead and
//! one lookbehind are read around the match, and its one backreference is two alternatives.

mod asterisk;
mod common;
mod freeswitch;
mod kamailio;
pub mod py;
mod pyuni;
pub mod time;

use std::sync::LazyLock;

use regex::Captures;

use self::py::Re;
use self::time::{Aware, Naive, Tz, Zone};

pub const FORMATS: [&str; 3] = ["asterisk-log", "freeswitch-log", "kamailio-log"];
pub const MAX_TEXT: usize = 512;
pub const MAX_MESSAGE: i64 = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Asterisk,
    FreeSwitch,
    Kamailio,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "asterisk-log" => Some(Format::Asterisk),
            "freeswitch-log" => Some(Format::FreeSwitch),
            "kamailio-log" => Some(Format::Kamailio),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Asterisk => "asterisk-log",
            Format::FreeSwitch => "freeswitch-log",
            Format::Kamailio => "kamailio-log",
        }
    }
}

/// A value of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// An event: its keys in the reference's order (`_ORDER`), empty values left out.
pub type Event = Vec<(&'static str, Value)>;

/// What a line is: an event, not a security event (skipped), or refused with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Event(Event),
    Skip,
    Reject(String),
}

/// The ends the PBX writes after the sender's last text, by message (`_TAILS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    NotFound,
    PjsipRequest,
    Iax2Peer,
    Quote,
    Paren,
    VertoLogin,
}

impl Tail {
    pub fn name(self) -> &'static str {
        match self {
            Tail::NotFound => "not_found",
            Tail::PjsipRequest => "pjsip_request",
            Tail::Iax2Peer => "iax2_peer",
            Tail::Quote => "quote",
            Tail::Paren => "paren",
            Tail::VertoLogin => "verto_login",
        }
    }

    pub fn from_name(name: &str) -> Option<Tail> {
        [Tail::NotFound, Tail::PjsipRequest, Tail::Iax2Peer, Tail::Quote, Tail::Paren, Tail::VertoLogin]
            .into_iter()
            .find(|t| t.name() == name)
    }

    fn pattern(self) -> &'static Re {
        static TAILS: LazyLock<[Re; 6]> = LazyLock::new(|| {
            [
                py::compile(r"' rejected because extension not found in context '[^']{0,256}'\.?\Z"),
                py::compile(r"\) - [A-Za-z][^'()]{0,160}\Z"),
                py::compile(r"' \(from [^\s()']{1,64}\)\Z"),
                py::compile(r"'\Z"),
                py::compile(r"\)\Z"),
                py::compile(r" domain: .{1,256}\Z"),
            ]
        });
        &TAILS[self as usize]
    }

    /// Whether a line ends as the PBX ends this message (searched in its last 400 characters).
    pub fn ends(self, text: &str) -> bool {
        self.pattern().is_match(py::tail(text, 400))
    }
}

/// Per-file reading state (`LogState`): zone, tenant, year inference, last time, cut messages.
#[derive(Clone, Debug)]
pub struct LogState {
    pub zone: Zone,
    pub tenant: String,
    pub year: Option<i64>,
    pub last: Option<Aware>,
    pub cut_tail: Option<Tail>,
    pub cut_left: i64,
}

/// `LogState.snapshot()`: year, last (isoformat), cut_tail, cut_left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub year: Option<i64>,
    pub last: Option<String>,
    pub cut_tail: Option<String>,
    pub cut_left: i64,
}

impl LogState {
    pub fn new(tz_name: &str, tenant: &str, year: Option<i64>) -> Result<LogState, String> {
        Ok(LogState {
            zone: Zone::get(tz_name)?,
            tenant: tenant.to_string(),
            year,
            last: None,
            cut_tail: None,
            cut_left: 0,
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            year: self.year,
            last: self.last.map(|l| self.zone.isoformat(&l)),
            cut_tail: self.cut_tail.map(|t| t.name().to_string()),
            cut_left: self.cut_left,
        }
    }

    /// `LogState.restore`: `last` read back as a fixed offset (as `datetime.fromisoformat` does).
    pub fn restore(tz_name: &str, tenant: &str, snap: &Snapshot) -> Result<LogState, String> {
        let mut state = LogState::new(tz_name, tenant, snap.year)?;
        if let Some(last) = snap.last.as_deref().filter(|l| !l.is_empty()) {
            let (wall, off) = time::fromisoformat(last).ok_or_else(|| format!("Invalid isoformat string: {last:?}"))?;
            let off = off.ok_or_else(|| format!("a snapshot's last time has no offset: {last:?}"))?;
            let tz = if off % 1_000_000 == 0 { Tz::Fixed((off / 1_000_000) as i32) } else { Tz::Fixed(0) };
            state.last = Some(Aware { wall, fold: false, tz });
        }
        if let Some(tail) = snap.cut_tail.as_deref().and_then(Tail::from_name) {
            state.cut_tail = Some(tail);
            state.cut_left = snap.cut_left.clamp(0, MAX_MESSAGE);
        }
        Ok(state)
    }
}

// ---------------------------------------------------------------------------------------- prefixes

const CLOCK: &str = r"(?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)(?:[.,](?P<f>\d{1,9}))?";
const BSD_DATE: &str = r"(?P<b>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<e>\d{1,2}) ";
const ISO_DATE: &str = r"(?P<Y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)[T ]";
const PROGRAM: &str =
    r"(?P<zone>Z|[+-]\d\d:?\d\d)? (?P<host>[^\s\[]\S{0,254}) (?P<prog>[^\s\[:]{1,128})(?:\[\d{1,10}\])?: +";

struct Patterns {
    ast_stamp: Re,
    fs_stamp: Re,
    syslog_iso: Re,
    syslog_bsd: Re,
    ast_head: Re,
    ast_src: Re,
    ast_ext: Re,
    fs_head: Re,
    kam_head: Re,
}

static P: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    ast_stamp: py::matcher(&format!(r"\[(?:{ISO_DATE}|{BSD_DATE}){CLOCK}\] +")),
    // the reference's lookahead `(?=\[[A-Z]{3,8}\] )` is the group `la`: the stamp ends where it starts
    fs_stamp: py::matcher(&format!(
        r"(?:[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}} )?(?:(?P<Y>\d{{4}})-)?(?P<m>\d\d)-(?P<d>\d\d) {CLOCK} (?:\d{{1,3}}\.\d\d% )?(?P<la>\[[A-Z]{{3,8}}\] )"
    )),
    syslog_iso: py::matcher(&format!("{ISO_DATE}{CLOCK}{PROGRAM}")),
    syslog_bsd: py::matcher(&format!("{BSD_DATE}{CLOCK}{PROGRAM}")),
    ast_head: py::matcher(r"(?P<level>[A-Z]{3,9}) ?\[\d{1,10}\](?:\[C-[0-9A-Fa-f]{1,16}\])?:? +"),
    ast_src: py::matcher(r"(?P<src>[\w./-]{1,128}\.c)(?::\d{1,6}(?: in)? \w{1,128})?: +"),
    ast_ext: py::matcher(r"Ext\. (?P<ext>[^:\s]{0,128})(?::\d{1,6})?(?: in)?(?: @ (?P<ctx>[^:\s]{1,128}))?: +"),
    fs_head: py::matcher(r"\[(?P<level>[A-Z]{3,8})\] (?:\[[A-Z_]{1,16}\] )?\[?(?P<src>[\w.-]{1,64}\.c):\d{1,6}\]? +"),
    kam_head: py::matcher(
        r"(?:\d{1,4}\(\d{1,10}\) )?(?P<level>[A-Z]{3,9}): (?P<src><script>|<core>|[\w-]{1,64})(?: \[(?P<file>[\w./-]{1,128}):\d{1,6}\])?: (?:[\w.]{1,128}\(\): )?",
    ),
});

/// The groups of a line's time stamp.
#[derive(Clone, Debug, Default)]
struct Stamp {
    y: Option<String>,
    m: Option<String>,
    d: Option<String>,
    b: Option<String>,
    e: Option<String>,
    hh: String,
    mm: String,
    ss: String,
    f: Option<String>,
    zone: Option<String>,
}

impl Stamp {
    fn of(c: &Captures) -> Stamp {
        let g = |n: &str| c.name(n).map(|m| m.as_str().to_string());
        Stamp {
            y: g("Y"),
            m: g("m"),
            d: g("d"),
            b: g("b"),
            e: g("e"),
            hh: g("H").unwrap_or_default(),
            mm: g("M").unwrap_or_default(),
            ss: g("S").unwrap_or_default(),
            f: g("f"),
            zone: g("zone"),
        }
    }
}

pub(crate) struct Line<'a> {
    stamp: Option<Stamp>,
    pub app: Option<Format>,
    pub level: &'a str,
    pub src: Option<&'a str>,
    pub msg: &'a str,
    pub context: Option<&'a str>,
}

/// A program stamp (`_AST_STAMP` or `_FS_STAMP`): its groups and where it ends.
fn program_stamp(text: &str) -> Option<(Stamp, usize)> {
    if let Some(c) = P.ast_stamp.captures(text) {
        return Some((Stamp::of(&c), c.get(0).map_or(0, |m| m.end())));
    }
    let c = P.fs_stamp.captures(text)?;
    Some((Stamp::of(&c), c.name("la").map_or(0, |m| m.start())))
}

fn split(text: &str) -> Line<'_> {
    if let Some((stamp, end)) = program_stamp(text) {
        return body(Some(stamp), &text[end..], None);
    }
    let c = P.syslog_iso.captures(text).or_else(|| P.syslog_bsd.captures(text));
    if let Some(c) = c {
        let end = c.get(0).map_or(0, |m| m.end());
        let mut rest = &text[end..];
        if let Some((_, inner)) = program_stamp(rest) {
            rest = &rest[inner..];
        }
        let prog = c.name("prog").map_or("", |m| m.as_str());
        let prog = prog.rsplit('/').next().unwrap_or(prog);
        return body(Some(Stamp::of(&c)), rest, Some(prog));
    }
    body(None, text, None)
}

fn body<'a>(stamp: Option<Stamp>, text: &'a str, prog: Option<&str>) -> Line<'a> {
    let line = |app, level, src, msg, context| Line { stamp: None, app, level, src, msg, context };
    let mut out = if let Some(m) = P.ast_head.captures(text) {
        let level = m.name("level").map_or("", |g| g.as_str());
        let rest = &text[m.get(0).map_or(0, |g| g.end())..];
        if let Some(s) = P.ast_src.captures(rest) {
            let src = s.name("src").map_or("", |g| g.as_str());
            let src = src.rsplit('/').next().unwrap_or(src);
            line(Some(Format::Asterisk), level, Some(src), &rest[s.get(0).map_or(0, |g| g.end())..], None)
        } else if let Some(e) = P.ast_ext.captures(rest) {
            let ctx = e.name("ctx").map(|g| g.as_str());
            line(Some(Format::Asterisk), level, None, &rest[e.get(0).map_or(0, |g| g.end())..], ctx)
        } else {
            line(Some(Format::Asterisk), level, Some(""), rest, None)
        }
    } else if let Some(m) = P.fs_head.captures(text) {
        let level = m.name("level").map_or("", |g| g.as_str());
        let src = m.name("src").map(|g| g.as_str());
        line(Some(Format::FreeSwitch), level, src, &text[m.get(0).map_or(0, |g| g.end())..], None)
    } else {
        match P.kam_head.captures(text) {
            Some(m)
                if m.name("file").is_some()
                    || matches!(m.name("src").map(|g| g.as_str()), Some("<script>" | "<core>")) =>
            {
                let level = m.name("level").map_or("", |g| g.as_str());
                let src = m.name("src").map(|g| g.as_str());
                line(Some(Format::Kamailio), level, src, &text[m.get(0).map_or(0, |g| g.end())..], None)
            }
            _ => {
                let app = match py::lower(prog.unwrap_or("")).as_str() {
                    "asterisk" => Some(Format::Asterisk),
                    "freeswitch" => Some(Format::FreeSwitch),
                    "kamailio" => Some(Format::Kamailio),
                    _ => None,
                };
                line(app, "", None, text, None)
            }
        }
    };
    out.stamp = stamp;
    out
}

// ------------------------------------------------------------------------------------------ time

fn month_of(name: &str) -> i64 {
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == name)
        .map_or(0, |i| i as i64 + 1)
}

/// `_stamp_time`: None where the reference raises ValueError.
fn stamp_time(g: &Stamp, state: &LogState) -> Option<Aware> {
    let month = match &g.b {
        Some(b) => month_of(b),
        None => py::int(g.m.as_deref().unwrap_or("")),
    };
    let day = py::int(g.e.as_deref().or(g.d.as_deref()).unwrap_or(""));
    let f = py::head(g.f.as_deref().unwrap_or("0"), 6);
    let mut us = py::int(f);
    for _ in py::char_len(f)..6 {
        us *= 10;
    }
    let clock = (py::int(&g.hh), py::int(&g.mm), py::int(&g.ss), us);
    let year = match &g.y {
        Some(y) => py::int(y),
        None => infer_year(state, month, day, clock),
    };
    if !(1971..=2199).contains(&year) {
        return None;
    }
    let naive = Naive::new(year, month, day, clock.0, clock.1, clock.2, clock.3)?;
    if let Some(zone) = &g.zone {
        return Some(Aware { wall: naive, fold: false, tz: Tz::Fixed(fixed_offset(zone)?) });
    }
    let zone = &state.zone;
    let mut when = zone.local_time(naive, false);
    if let Some(last) = &state.last {
        if zone.cmp(&when, last).is_lt() {
            let later = zone.local_time(naive, true);
            if zone.cmp(&later, last).is_ge() {
                when = later;
            }
        }
    }
    Some(when)
}

fn infer_year(state: &LogState, month: i64, day: i64, clock: (i64, i64, i64, i64)) -> i64 {
    let zone = &state.zone;
    let mut year = match &state.last {
        Some(last) => {
            let prev = zone.astimezone(last).wall.ymd();
            prev.0 + i64::from(month < prev.1 - 6) - i64::from(month > prev.1 + 6)
        }
        None => match state.year {
            Some(y) if y != 0 => y,
            _ => zone.now_year(),
        },
    };
    if let Some(naive) = Naive::new(year, month, day, clock.0, clock.1, clock.2, clock.3) {
        let when = zone.instant(&zone.local_time(naive, false));
        let now = time::now();
        if when > (Naive { secs: now.secs + time::DAY, us: now.us }) {
            year -= 1;
        }
    }
    year
}

/// `_offset`: seconds, None where `datetime.timezone` refuses it (a day or more).
fn fixed_offset(zone: &str) -> Option<i32> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone.chars().skip(1).filter(|&c| c != ':').collect();
    let hours = py::int(py::head(&digits, 2));
    let minutes = py::int(&digits[py::head(&digits, 2).len()..]);
    let secs = hours * 3600 + minutes * 60;
    (secs < time::DAY).then_some(sign * secs as i32)
}

static EPOCH_TV: LazyLock<Re> = LazyLock::new(|| py::full(r"[0-9]{9,11}-[0-9]{1,6}"));

/// `_event_tv`: res_security_log's EventTV or the tollguard line's `time-usec`.
fn event_tv(text: &str, zone: &Zone) -> Option<Aware> {
    let when = if text.contains('-') && EPOCH_TV.is_match(text) {
        let (secs, micros) = text.split_once('-')?;
        let secs: i64 = secs.parse().ok()?;
        let micros: i64 = micros.parse().ok()?;
        let base = zone.from_utc(Naive { secs, us: 0 });
        let total = i64::from(base.wall.us) + micros;
        let wall = Naive { secs: base.wall.secs + total.div_euclid(1_000_000), us: total.rem_euclid(1_000_000) as u32 };
        Aware { wall, fold: false, tz: Tz::Zone }
    } else {
        let (wall, off) = time::fromisoformat(text)?;
        match off {
            Some(off) if off % 60_000_000 != 0 => return None,
            Some(off) => Aware { wall, fold: false, tz: Tz::Fixed((off / 1_000_000) as i32) },
            None => zone.local_time(wall, false),
        }
    };
    if zone.offset(&when) % 60 != 0 {
        return None;
    }
    let instant = zone.instant(&when);
    let min = Naive { secs: time::days_from_civil(1971, 1, 2) * time::DAY, us: 0 };
    let max = Naive { secs: time::days_from_civil(2199, 12, 31) * time::DAY, us: 0 };
    (min <= instant && instant < max).then_some(when)
}

// ------------------------------------------------------------------------------------------ API

/// What a parser gives besides an event: the reference's AdapterError, or `_Unended`.
pub(crate) enum Fail {
    Adapter(String),
    Unended { what: &'static str, tail: Tail, event: Option<Box<Fields>> },
}

impl From<String> for Fail {
    fn from(reason: String) -> Fail {
        Fail::Adapter(reason)
    }
}

pub(crate) type Parsed = Result<Option<Fields>, Fail>;

/// An event's fields before `_finish` (None is absent, as in the reference's dict).
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    pub ts: Option<String>,
    pub service: Option<String>,
    pub src_ip: Option<String>,
    pub outcome: Option<&'static str>,
    pub action: Option<String>,
    pub account: Option<String>,
    pub protocol: Option<&'static str>,
    pub port: Option<i64>,
    pub reason: Option<String>,
    pub dialled: Option<String>,
    pub context: Option<String>,
    pub user_agent: Option<String>,
    pub round_trip: Option<bool>,
}

const CUT_FOLLOWS: &str = "cut: the rest of a message the sender's text broke with a newline (up to the end its PBX writes), so the sender's text, whatever it looks like: not read";

/// `parse_line`: one physical line (no newline) to an event, a skip or a reject.
pub fn parse_line(fmt: Format, line: &str, state: &mut LogState) -> Outcome {
    let text = py::strip(line);
    if text.contains('\n') {
        return Outcome::Reject("a newline inside one line: two lines given as one, so neither is read".into());
    }
    if state.cut_tail.is_some() && continues(line, text, state) {
        return Outcome::Reject(CUT_FOLLOWS.into());
    }
    if text.is_empty() || text.starts_with('#') {
        return Outcome::Skip;
    }
    let p = split(text);
    let (when, bad) = line_time(&p, state);
    if p.app != Some(fmt) {
        return Outcome::Skip;
    }
    let parsed = match fmt {
        Format::Asterisk => asterisk::asterisk(&p),
        Format::FreeSwitch => freeswitch::freeswitch(&p),
        Format::Kamailio => kamailio::kamailio(&p),
    };
    let mut fields = match parsed {
        Ok(Some(f)) => f,
        Ok(None) => return Outcome::Skip,
        Err(Fail::Adapter(reason)) => return Outcome::Reject(reason),
        Err(Fail::Unended { what, tail, event }) => {
            state.cut_tail = Some(tail);
            state.cut_left = (MAX_MESSAGE - py::char_len(p.msg) as i64 - 1).max(0);
            match event {
                Some(f) => *f,
                None => {
                    return Outcome::Reject(format!(
                        "cut: {what} lacks the end the PBX writes (a newline in the sender's text?), so neither it nor the lines up to that end are read"
                    ))
                }
            }
        }
    };
    let tv = fields.ts.take().filter(|t| !t.is_empty());
    let ts = tv.and_then(|t| event_tv(&t, &state.zone)).or(when);
    let Some(ts) = ts else {
        return Outcome::Reject(bad.unwrap_or("no time stamp on this line, and none earlier in the file").to_string());
    };
    Outcome::Event(finish(fields, &ts, state))
}

fn continues(line: &str, text: &str, state: &mut LogState) -> bool {
    if state.cut_left <= 0 {
        state.cut_tail = None;
        return false;
    }
    state.cut_left -= py::char_len(line) as i64 + 1;
    if state.cut_tail.is_some_and(|t| t.ends(text)) {
        state.cut_tail = None;
        state.cut_left = 0;
    }
    !text.is_empty()
}

fn line_time(p: &Line, state: &mut LogState) -> (Option<Aware>, Option<&'static str>) {
    let Some(stamp) = &p.stamp else { return (state.last, None) };
    match stamp_time(stamp, state) {
        Some(when) => {
            state.last = Some(when);
            (Some(when), None)
        }
        None => (None, Some("unreadable time stamp (no such date, or out of range)")),
    }
}

fn finish(f: Fields, ts: &Aware, state: &LogState) -> Event {
    let mut round_trip = f.round_trip;
    if f.outcome == Some("failure") && round_trip.is_none() {
        round_trip = common::round_trip(f.service.as_deref(), f.reason.as_deref());
    }
    let mut ev: Event = Vec::with_capacity(15);
    let mut text = |key: &'static str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            ev.push((key, Value::Str(py::head(v, MAX_TEXT).to_string())));
        }
    };
    text("type", Some("security"));
    text("tenant", Some(&state.tenant));
    text("ts", Some(&state.zone.isoformat(ts)));
    text("service", f.service.as_deref());
    text("src_ip", f.src_ip.as_deref());
    text("outcome", f.outcome);
    text("action", f.action.as_deref());
    text("account", f.account.as_deref());
    text("protocol", f.protocol);
    if let Some(port) = f.port {
        ev.push(("port", Value::Int(port)));
    }
    let mut text = |key: &'static str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            ev.push((key, Value::Str(py::head(v, MAX_TEXT).to_string())));
        }
    };
    text("reason", f.reason.as_deref());
    text("dialled", f.dialled.as_deref());
    text("context", f.context.as_deref());
    text("user_agent", f.user_agent.as_deref());
    if let Some(rt) = round_trip {
        ev.push(("round_trip", Value::Bool(rt)));
    }
    ev
}

/// `sniff_line`: which format this line unmistakably belongs to, if any.
pub fn sniff_line(line: &str) -> Option<Format> {
    let text = py::strip(line);
    let first = text.chars().next()?;
    if "{[\"".contains(first) && !P.ast_stamp.is_match(text) {
        return None;
    }
    split(text).app
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> LogState {
        LogState::new("Europe/Berlin", "default", Some(2024)).unwrap()
    }

    fn event(line: &str, fmt: Format, st: &mut LogState) -> Event {
        match parse_line(fmt, line, st) {
            Outcome::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chan_sip_registration() {
        let mut st = state();
        let ev = event(
            "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:301@example.com>' failed for '1.2.3.4:5060' - Wrong password",
            Format::Asterisk,
            &mut st,
        );
        let keys: Vec<_> = ev.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["type", "tenant", "ts", "service", "src_ip", "outcome", "action", "account", "port", "reason", "round_trip"]);
        assert_eq!(ev[2].1, Value::Str("2012-02-13T17:21:54+01:00".into()));
        assert_eq!(ev[7].1, Value::Str("301".into()));
    }

    #[test]
    fn two_readings_are_refused() {
        let mut st = state();
        let line = "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Call from '' (1.2.3.4:5060) to extension '' (5.6.7.8:5060) to extension '00' rejected because extension not found in context 'default'.";
        match parse_line(Format::Asterisk, line, &mut st) {
            Outcome::Reject(r) => assert!(r.starts_with("ambiguous source address"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_message_refuses_what_follows() {
        let mut st = state();
        let line = "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Call from '' (1.2.3.4:5060) to extension '00";
        assert!(matches!(parse_line(Format::Asterisk, line, &mut st), Outcome::Reject(_)));
        assert_eq!(st.cut_tail, Some(Tail::NotFound));
        let next = "[2012-02-13 17:21:55] NOTICE[1638] chan_sip.c: Registration from '<sip:1@x>' failed for '9.9.9.9' - Wrong password";
        assert_eq!(parse_line(Format::Asterisk, next, &mut st), Outcome::Reject(CUT_FOLLOWS.into()));
        let end = "x' rejected because extension not found in context 'default'.";
        assert_eq!(parse_line(Format::Asterisk, end, &mut st), Outcome::Reject(CUT_FOLLOWS.into()));
        assert_eq!(st.cut_tail, None);
    }

    #[test]
    fn scope_ids_are_refused_and_years_inferred() {
        let mut st = state();
        let line = "[Jan 18 17:39:50] NOTICE[12049] manager.c: fe80::1%eth0 failed to authenticate as 'admin'";
        match parse_line(Format::Asterisk, line, &mut st) {
            Outcome::Reject(r) => assert!(r.starts_with("an IPv6 scope id"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(st.snapshot().last.as_deref(), Some("2024-01-18T17:39:50+01:00"));
        assert_eq!(sniff_line("Nov  4 18:30:40 host asterisk[32229]: hello"), Some(Format::Asterisk));
    }
}
