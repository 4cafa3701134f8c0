//! The detector's output records as the shells send them: `Alert`, `Action` (both
//! `streams.domain.events`) and the incident fold's `Seen` (`streams.domain.incidents`), written as
//! `msgspec.json.Encoder().encode` writes the Python structs, byte for byte, so an alert's record is the
//! same whichever detector made it (docs/engine.md, "The engine's face": `feed` returns the records'
//! bytes). Held to msgspec by `tests/engine/test_record_engine.py`.
//!
//! What msgspec does that the writer keeps: the struct's tag first (`"type":"alert"`), then the fields in
//! declared order; every field of `Alert` and `Seen` written, `Action.from_ip` left out while it is None
//! (`omit_defaults`); a datetime as `iso()` makes it (`2024-12-07T08:47:14.123456Z`, no fraction on a whole
//! second); a float by msgspec's shortest round trip (`1e16`, `-0.0`; a NaN or an infinity as `null`); an
//! int of any size in decimal; a str with `"`, `\` and controls escaped and the rest as it is; a dict's
//! keys in insertion order, an int key as its decimal text.

use crate::event::fmt::json_str;
use crate::ids::{iso_text, IsoError};
use crate::window::msgspec_float;

/// A value of an alert's evidence: what a rule puts there (JSON's kinds, ints of any size).
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    Null,
    Bool(bool),
    Int(i128),
    /// An int past 128 bits, as its decimal text (Python's `str`).
    BigInt(String),
    Float(f64),
    Str(String),
    List(Vec<Ev>),
    Map(Vec<(String, Ev)>),
}

impl Ev {
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Ev::Null => out.extend_from_slice(b"null"),
            Ev::Bool(true) => out.extend_from_slice(b"true"),
            Ev::Bool(false) => out.extend_from_slice(b"false"),
            Ev::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Ev::BigInt(text) => out.extend_from_slice(text.as_bytes()),
            Ev::Float(x) => out.extend_from_slice(msgspec_float(*x).as_bytes()),
            Ev::Str(s) => json_str(out, s),
            Ev::List(items) => {
                out.push(b'[');
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Ev::Map(items) => write_map(out, items),
        }
    }
}

fn write_map(out: &mut Vec<u8>, items: &[(String, Ev)]) {
    out.push(b'{');
    for (k, (key, value)) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        json_str(out, key);
        out.push(b':');
        value.write(out);
    }
    out.push(b'}');
}

/// `Alert`.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub alert_id: String,
    pub ts: f64,
    pub tenant: String,
    pub rule: String,
    pub severity: String,
    pub subject_type: String,
    pub subject: String,
    pub summary: String,
    pub evidence: Vec<(String, Ev)>,
    pub mode: String,
}

/// `Action`.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub action_id: String,
    pub ts: f64,
    pub tenant: String,
    pub kind: String,
    pub target: String,
    pub duration_s: Option<i64>,
    pub alert_id: String,
    pub reason: String,
    pub from_ip: Option<String>,
}

/// `Seen`: one detection as the incident fold reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub alert_id: String,
    pub ts: f64,
    pub tenant: String,
    pub rule: String,
    pub severity: String,
    pub subject_type: String,
    pub subject: String,
    pub summary: String,
    pub span: f64,
    pub ident: u64,
    pub call_id: Option<String>,
    pub cost: Option<f64>,
    pub actions: Vec<Action>,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub account: Option<String>,
    pub country: Option<String>,
}

/// Writes `"name":` and the str.
fn field_str(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b',');
    json_str(out, name);
    out.push(b':');
    json_str(out, value);
}

fn field_opt_str(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    match value {
        Some(v) => field_str(out, name, v),
        None => field_raw(out, name, b"null"),
    }
}

fn field_raw(out: &mut Vec<u8>, name: &str, raw: &[u8]) {
    out.push(b',');
    json_str(out, name);
    out.push(b':');
    out.extend_from_slice(raw);
}

fn field_time(out: &mut Vec<u8>, name: &str, ts: f64) -> Result<(), IsoError> {
    let text = iso_text(ts)?;
    field_str(out, name, &text);
    Ok(())
}

fn open(out: &mut Vec<u8>, tag: &str) {
    out.extend_from_slice(b"{\"type\":");
    json_str(out, tag);
}

impl Alert {
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), IsoError> {
        open(out, "alert");
        field_str(out, "alert_id", &self.alert_id);
        field_time(out, "ts", self.ts)?;
        field_str(out, "tenant", &self.tenant);
        field_str(out, "rule", &self.rule);
        field_str(out, "severity", &self.severity);
        field_str(out, "subject_type", &self.subject_type);
        field_str(out, "subject", &self.subject);
        field_str(out, "summary", &self.summary);
        out.extend_from_slice(b",\"evidence\":");
        write_map(out, &self.evidence);
        field_str(out, "mode", &self.mode);
        out.push(b'}');
        Ok(())
    }
}

impl Action {
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), IsoError> {
        open(out, "action");
        field_str(out, "action_id", &self.action_id);
        field_time(out, "ts", self.ts)?;
        field_str(out, "tenant", &self.tenant);
        field_str(out, "kind", &self.kind);
        field_str(out, "target", &self.target);
        match self.duration_s {
            Some(d) => field_raw(out, "duration_s", d.to_string().as_bytes()),
            None => field_raw(out, "duration_s", b"null"),
        }
        field_str(out, "alert_id", &self.alert_id);
        field_str(out, "reason", &self.reason);
        if let Some(ip) = &self.from_ip {
            field_str(out, "from_ip", ip);
        }
        out.push(b'}');
        Ok(())
    }
}

impl Seen {
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), IsoError> {
        open(out, "seen");
        field_str(out, "alert_id", &self.alert_id);
        field_raw(out, "ts", msgspec_float(self.ts).as_bytes());
        field_str(out, "tenant", &self.tenant);
        field_str(out, "rule", &self.rule);
        field_str(out, "severity", &self.severity);
        field_str(out, "subject_type", &self.subject_type);
        field_str(out, "subject", &self.subject);
        field_str(out, "summary", &self.summary);
        field_raw(out, "span", msgspec_float(self.span).as_bytes());
        field_raw(out, "ident", self.ident.to_string().as_bytes());
        field_opt_str(out, "call_id", self.call_id.as_deref());
        match self.cost {
            Some(c) => field_raw(out, "cost", msgspec_float(c).as_bytes()),
            None => field_raw(out, "cost", b"null"),
        }
        out.extend_from_slice(b",\"actions\":[");
        for (k, a) in self.actions.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            a.write(out)?;
        }
        out.push(b']');
        field_opt_str(out, "campaign", self.campaign.as_deref());
        field_opt_str(out, "source", self.source.as_deref());
        field_opt_str(out, "account", self.account.as_deref());
        field_opt_str(out, "country", self.country.as_deref());
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_leaves_out_a_missing_from_ip_but_writes_a_missing_duration() {
        let mut a = Action {
            action_id: "a1".into(), ts: 1_700_000_000.5, tenant: "acme".into(), kind: "block_ip".into(),
            target: "203.0.113.9".into(), duration_s: None, alert_id: "x".into(), reason: "r \"q\"\n".into(), from_ip: None,
        };
        let mut out = Vec::new();
        a.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"type":"action","action_id":"a1","ts":"2023-11-14T22:13:20.500000Z","tenant":"acme","kind":"block_ip","target":"203.0.113.9","duration_s":null,"alert_id":"x","reason":"r \"q\"\n"}"#
        );
        a.from_ip = Some("10.0.0.1".into());
        a.duration_s = Some(600);
        let mut out = Vec::new();
        a.write(&mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with(r#""duration_s":600,"alert_id":"x","reason":"r \"q\"\n","from_ip":"10.0.0.1"}"#));
    }

    #[test]
    fn evidence_values_are_written_as_msgspec_writes_them() {
        let ev = Ev::Map(vec![
            ("n".into(), Ev::Int(-3)),
            ("x".into(), Ev::Float(1e16)),
            ("z".into(), Ev::Float(-0.0)),
            ("nan".into(), Ev::Float(f64::NAN)),
            ("l".into(), Ev::List(vec![Ev::Str("a\u{1}".into()), Ev::Null, Ev::Bool(true)])),
        ]);
        let mut out = Vec::new();
        ev.write(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"n":-3,"x":1e16,"z":-0.0,"nan":null,"l":["a\u0001",null,true]}"#);
    }
}
