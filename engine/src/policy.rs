//! A tenant's policy as the engine reads it: one resolved JSON document per tenant, written by
//! `streams.policy.compiled.Tenant.document()` after Python has loaded and validated the policy
//! (docs/engine.md, step 3 "The policy as data"). Python stays the only place that reads YAML,
//! reports `file:line` and applies defaults; the engine trusts the document and reads what it needs.
//!
//! What the document answers here, each as `Tenant`'s method of the same name answers it:
//! `in_lan` and `exempt` (the LAN and the static-accept networks), `business_hours` and
//! `local_day` (the tenant's zone, weekly hours and holidays), and the settings of the rules of a
//! registration or sign-in flood (docs/engine.md, "Which rules first"). Held to the Python by
//! `tests/engine/test_policy_engine.py`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use serde::Deserialize;

use crate::ids::{self, IsoError};
use crate::seclog::time::{civil_from_days, Zone};

/// `date.toordinal()` of 1970-01-01.
const ORDINAL_1970: i64 = 719_163;

/// Why a document cannot be read: it was not written by `Tenant.document()` of this version.
#[derive(Debug, PartialEq)]
pub struct DocError(pub String);

/// Where the reference raises on a time.
#[derive(Debug, PartialEq)]
pub enum TimeError {
    /// `int()` of a NaN (an infinite time's floor division is a NaN too): ValueError.
    NaN,
    /// `datetime.fromtimestamp` refuses the instant in UTC (`ids::iso`'s errors, Python's exceptions).
    Utc(IsoError),
    /// The local wall clock leaves years 1 to 9999 (`tz.fromutc`'s OverflowError "date value out of range").
    Local,
    /// Past jiff's zone range (after 9999-12-30T22:00Z), where Python still answers for a zone west of
    /// UTC: no contract time (1971 to 2199) comes near it, so the engine refuses rather than guess.
    Beyond,
}

/// An IP network: the address with its host bits cleared (`ip_network(..., strict=False)`), and the prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Net {
    v6: bool,
    bits: u128,
    prefix: u8,
}

impl Net {
    /// `ipaddress.ip_network(text, strict=False)` for the spellings `str()` of a network writes.
    pub fn parse(text: &str) -> Result<Net, DocError> {
        let bad = || DocError(format!("not a network: {text:?}"));
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        // an IPv6 network may name a scope (`fe80::%1/64`): `ipaddress` keeps it in `str()`, membership ignores it
        let ip: IpAddr = match addr.split_once('%') {
            Some((a, scope)) if !scope.is_empty() && !scope.contains('%') => IpAddr::V6(a.parse().map_err(|_| bad())?),
            Some(_) => return Err(bad()),
            None => addr.parse().map_err(|_| bad())?,
        };
        let (v6, bits, width) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32u8),
            IpAddr::V6(a) => (true, u128::from(a), 128u8),
        };
        let prefix = prefix.unwrap_or(width);
        if prefix > width {
            return Err(bad());
        }
        Ok(Net { v6, bits: bits & mask(prefix, width), prefix })
    }

    /// `ip in network`: False for an address of the other version, as `ipaddress` answers.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, bits, width) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32u8),
            IpAddr::V6(a) => (true, u128::from(a), 128u8),
        };
        v6 == self.v6 && bits & mask(self.prefix, width) == self.bits
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(width))
    }
}

/// `streams.domain.events.parse_ip`: an IPv4-mapped IPv6 address is the IPv4 one. An IPv6 address may carry
/// a scope id (`fe80::1%eth0`: not empty, no second `%`), which `ipaddress` keeps and membership ignores.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = match text.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() && !scope.contains('%') => IpAddr::V6(addr.parse().ok()?),
        Some(_) => return None,
        None => text.parse().ok()?,
    };
    Some(match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

// -- the document -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Doc {
    version: u32,
    name: String,
    settings: Settings,
    lan: Vec<String>,
    accept: Vec<String>,
    hours: BTreeMap<String, Vec<(u32, u32)>>,
    holidays: Vec<i64>,
    scanners: Vec<String>,
    retention: BTreeMap<String, f64>,
    deny: Vec<(String, String, String, String)>,
    extensions: BTreeMap<String, ExtDoc>,
    default_extension: ExtDoc,
    custom_scopes: Vec<(String, String)>,
}

/// An extension's resolved settings as the document writes them (`ExtSettings`: its entry over
/// `extensions.defaults` over the tenant's), those the ported rules read.
#[derive(Deserialize)]
struct ExtDoc {
    user_agents: Option<Vec<String>>,
    permitted_ips: Option<Vec<String>>,
    remote_registration: Option<bool>,
}

/// `ExtSettings`: what the ported rules read of one extension's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtSettings {
    /// Lower-cased user-agent prefixes (`user_agent_restriction`).
    pub user_agents: Option<Vec<String>>,
    /// Each network with its text as `str()` writes it (`registration_ip_restriction`).
    pub permitted_ips: Option<Vec<(Net, String)>>,
    pub remote_registration: Option<bool>,
}

impl ExtSettings {
    fn from_doc(d: ExtDoc) -> Result<ExtSettings, DocError> {
        let permitted_ips = match d.permitted_ips {
            None => None,
            Some(v) => Some(v.into_iter().map(|n| Ok((Net::parse(&n)?, n))).collect::<Result<Vec<_>, DocError>>()?),
        };
        Ok(ExtSettings { user_agents: d.user_agents, permitted_ips, remote_registration: d.remote_registration })
    }
}

/// `RemoteRegistration`, its networks read.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteRegistration {
    pub access: String,
    pub accounts: Vec<String>,
    pub permitted_ips: Vec<Net>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RemoteRegistrationSetting {
    pub access: String,
    pub accounts: Vec<String>,
    pub permitted_ips: Vec<String>,
}

/// A static rule that drops or rejects (`Tenant.deny`): its network, name, source as written, and action.
#[derive(Clone, Debug, PartialEq)]
pub struct DenyRule {
    pub net: Net,
    pub name: String,
    pub source: String,
    pub action: String,
}

/// The document's version: `Tenant.document()` writes it, and a document of another is refused.
pub const VERSION: u32 = 3;

/// `Lockout` (registration_lockout, login_lockout).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Lockout {
    pub failures: i64,
    pub seconds: i64,
    pub block_seconds: Option<i64>,
    pub lock_account: bool,
    pub lock_scope: String,
    pub max_failures: Option<i64>,
    pub max_seconds: i64,
}

/// `DistributedLockout`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct DistributedLockout {
    pub failures: i64,
    pub seconds: i64,
    pub sources: i64,
    pub accounts: i64,
}

/// `AutoDefenseRule`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct AutoDefense {
    pub name: Option<String>,
    pub service: String,
    pub protocol: String,
    pub port: Option<i64>,
    pub packets: i64,
    pub seconds: f64,
    pub block_seconds: Option<i64>,
}

/// The settings of the flood's rules (`TenantPolicy`'s fields of the same names); the rest of the
/// document's settings are read as the rules that need them are ported.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Settings {
    pub timezone: String,
    pub allowed_country_ips: Option<Vec<String>>,
    pub country_ip_block: String,
    pub registration_lockout: Lockout,
    pub login_lockout: Lockout,
    pub distributed_lockout: DistributedLockout,
    pub auto_defense: Vec<AutoDefense>,
    pub block_on_unverified_udp: bool,
    pub scanner_block_seconds: Option<i64>,
    pub block_seconds: Option<i64>,
    pub incident_seconds: i64,
    pub campaign_seconds: i64,
    /// `rules:`: each rule's mode and severity (a custom rule's other fields are not read here).
    pub rules: BTreeMap<String, RuleSetting>,
    /// `privacy:`: what the engine cannot do yet (pseudonymise what people read) it refuses to do wrong.
    pub privacy: Option<PrivacySetting>,
    pub remote_registration: Option<RemoteRegistrationSetting>,
}

/// `PrivacySetting`'s switches.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PrivacySetting {
    pub mask_numbers: String,
    pub hash_ips: bool,
}

impl Settings {
    /// `Privacy.active`: something written for people is pseudonymised.
    pub fn privacy_active(&self) -> bool {
        self.privacy.as_ref().is_some_and(|p| p.mask_numbers != "none" || p.hash_ips)
    }
}

/// `RuleSetting` (and the same two fields of a custom rule).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RuleSetting {
    #[serde(default = "enforce")]
    pub mode: String,
    #[serde(default)]
    pub severity: Option<String>,
}

fn enforce() -> String {
    "enforce".to_string()
}

/// One tenant's resolved policy.
pub struct Tenant {
    pub name: String,
    pub settings: Settings,
    pub scanners: Vec<String>,
    pub retention: BTreeMap<String, f64>,
    pub deny: Vec<DenyRule>,
    pub remote_registration: Option<RemoteRegistration>,
    extensions: HashMap<String, ExtSettings>,
    default_extension: ExtSettings,
    /// The (scope, event type) pairs with the operator's own rules (`custom`, not ported).
    pub custom_scopes: Vec<(String, String)>,
    pub allowed_country_ips: Option<HashSet<String>>,
    lan: Vec<Net>,
    accept: Vec<Net>,
    zone: Zone,
    /// Per weekday (Monday 0), the spans `[start, end)` in seconds of the local day.
    hours: [Vec<(i64, i64)>; 7],
    any_hours: bool,
    holidays: HashSet<i64>,
}

impl Tenant {
    /// Read a document `Tenant.document()` wrote.
    pub fn from_json(doc: &[u8]) -> Result<Tenant, DocError> {
        let d: Doc = serde_json::from_slice(doc).map_err(|e| DocError(format!("not a tenant document: {e}")))?;
        if d.version != VERSION {
            return Err(DocError(format!("tenant document version {} (this engine reads {VERSION})", d.version)));
        }
        let nets = |v: &[String]| v.iter().map(|n| Net::parse(n)).collect::<Result<Vec<_>, _>>();
        let mut hours: [Vec<(i64, i64)>; 7] = Default::default();
        for (day, spans) in &d.hours {
            let day: usize = day.parse().ok().filter(|&d: &usize| d < 7).ok_or_else(|| DocError(format!("bad weekday {day:?}")))?;
            hours[day].extend(spans.iter().map(|&(a, b)| (i64::from(a) * 60, i64::from(b) * 60)));
        }
        let zone = Zone::get(&d.settings.timezone).map_err(DocError)?;
        let remote_registration = match &d.settings.remote_registration {
            None => None,
            Some(r) => Some(RemoteRegistration {
                access: r.access.clone(),
                accounts: r.accounts.clone(),
                permitted_ips: r.permitted_ips.iter().map(|n| Net::parse(n)).collect::<Result<Vec<_>, _>>()?,
            }),
        };
        Ok(Tenant {
            allowed_country_ips: d.settings.allowed_country_ips.as_ref().map(|v| v.iter().cloned().collect()),
            lan: nets(&d.lan)?,
            accept: nets(&d.accept)?,
            zone,
            any_hours: !d.hours.is_empty(),
            hours,
            holidays: d.holidays.into_iter().collect(),
            name: d.name,
            settings: d.settings,
            scanners: d.scanners,
            retention: d.retention,
            remote_registration,
            extensions: d.extensions.into_iter().map(|(k, v)| Ok((k, ExtSettings::from_doc(v)?)))
                .collect::<Result<HashMap<_, _>, DocError>>()?,
            default_extension: ExtSettings::from_doc(d.default_extension)?,
            custom_scopes: d.custom_scopes,
            deny: d.deny.into_iter()
                .map(|(net, name, source, action)| Ok(DenyRule { net: Net::parse(&net)?, name, source, action }))
                .collect::<Result<Vec<_>, DocError>>()?,
        })
    }

    /// `Tenant.rule(rule_id)`: its setting, else the default one (`report` for the anomaly model, `enforce`
    /// for every other rule), as (mode, severity).
    pub fn rule(&self, rule_id: &str) -> (&str, Option<&str>) {
        match self.settings.rules.get(rule_id) {
            Some(r) => (r.mode.as_str(), r.severity.as_deref()),
            None if rule_id == "anomaly" => ("report", None),
            None => ("enforce", None),
        }
    }

    /// `Tenant.ext(extension)`: its settings, else the defaults'.
    pub fn ext(&self, extension: Option<&str>) -> &ExtSettings {
        extension.and_then(|e| self.extensions.get(e)).unwrap_or(&self.default_extension)
    }

    /// `Tenant.in_lan`.
    pub fn in_lan(&self, ip: IpAddr) -> bool {
        self.lan.iter().any(|n| n.contains(ip))
    }

    /// `Tenant.exempt`: LAN and static-accept addresses are never blocked.
    pub fn exempt(&self, ip: IpAddr) -> bool {
        self.in_lan(ip) || self.accept.iter().any(|n| n.contains(ip))
    }

    /// `Tenant.business_hours`: None when no hours are configured; judged at the instant's minute.
    pub fn business_hours(&self, ts: f64) -> Result<Option<bool>, TimeError> {
        if !self.any_hours {
            return Ok(None);
        }
        let minute = floor_div(ts, 60.0)?;
        let (day, secs) = self.local(minute.checked_mul(60).ok_or(TimeError::Utc(IsoError::TimeT))?)?;
        if self.holidays.contains(&(day + ORDINAL_1970)) {
            return Ok(Some(false));
        }
        let weekday = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        Ok(Some(self.hours[weekday].iter().any(|&(a, b)| a <= secs && secs < b)))
    }

    /// `Tenant.local_day`: `date.toordinal()` of the instant's quarter hour in the tenant's zone.
    pub fn local_day(&self, ts: f64) -> Result<i64, TimeError> {
        let q = floor_div(ts, 900.0)?;
        let (day, _) = self.local(q.checked_mul(900).ok_or(TimeError::Utc(IsoError::TimeT))?)?;
        Ok(day + ORDINAL_1970)
    }

    /// Days since 1970-01-01 and seconds into the day, on the tenant's wall clock at a whole-second instant
    /// (`datetime.fromtimestamp(t, tz)`: the instant in UTC first, as `iso` reads it, then the zone's offset).
    fn local(&self, instant: i64) -> Result<(i64, i64), TimeError> {
        ids::iso(instant as f64).map_err(TimeError::Utc)?;
        let offset = self.zone.try_offset_at(instant).ok_or(TimeError::Beyond)?;
        let wall = instant + i64::from(offset); // |instant| < 2**63 / 2 once iso has taken it
        let day = wall.div_euclid(86_400);
        let (y, _, _) = civil_from_days(day);
        if !(1..=9999).contains(&y) {
            return Err(TimeError::Local);
        }
        Ok((day, wall.rem_euclid(86_400)))
    }
}

/// `int(ts // d)` as CPython computes a float's floor division (`float_divmod`: `fmod`, then the
/// quotient corrected and rounded), then `int()` of it. An infinite `ts` divides to a NaN (its `fmod` is
/// one), so both are `int()`'s ValueError.
fn floor_div(ts: f64, d: f64) -> Result<i64, TimeError> {
    if !ts.is_finite() {
        return Err(TimeError::NaN);
    }
    let mut m = ts % d; // C's fmod
    let mut div = (ts - m) / d;
    if m != 0.0 && ((d < 0.0) != (m < 0.0)) {
        m += d;
        div -= 1.0;
    }
    let _ = m;
    let q = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 { f + 1.0 } else { f }
    } else {
        0.0
    };
    if q.abs() >= 9.2e18 {
        return Err(TimeError::Utc(IsoError::TimeT)); // times 60 or 900, past what time_t holds
    }
    Ok(q as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_hold_what_ipaddress_says_they_hold() {
        let net = Net::parse("10.1.2.3/8").unwrap(); // strict=False: the host bits are cleared
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.0".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap())); // another version, as ipaddress answers
        assert!(Net::parse("0.0.0.0/0").unwrap().contains("203.0.113.9".parse().unwrap()));
        assert!(!Net::parse("::/0").unwrap().contains("203.0.113.9".parse().unwrap()));
        assert!(Net::parse("fe80::/10").unwrap().contains("febf::1".parse().unwrap()));
        assert!(Net::parse("2001:db8::1").unwrap().contains("2001:db8::1".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert_eq!(parse_ip("::ffff:10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("fe80::1%eth0"), Some("fe80::1".parse().unwrap()));
        assert_eq!(parse_ip("::ffff:10.0.0.1%1"), Some("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.1%eth0", "fe80::1%", "fe80::1%a%b", "%eth0"] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn floor_division_is_pythons() {
        assert_eq!(floor_div(119.999_999, 60.0), Ok(1));
        assert_eq!(floor_div(-0.5, 60.0), Ok(-1));
        assert_eq!(floor_div(-60.0, 60.0), Ok(-1));
        assert_eq!(floor_div(1.7e9, 900.0), Ok(1_888_888));
        assert_eq!(floor_div(f64::NAN, 60.0), Err(TimeError::NaN));
        assert_eq!(floor_div(f64::INFINITY, 60.0), Err(TimeError::NaN));
    }
}
