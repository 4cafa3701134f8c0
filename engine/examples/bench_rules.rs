//! µs per event, in Rust alone, of the flood's rules (engine/src/rules/) over a file of events, each key's
//! state held in memory: `cargo run --release --example bench_rules -- EVENTS.jsonl TENANT_DOC.json`
//! (the document as `Tenant.document()` writes it). Each security event goes to its source's IP key
//! (`registration_lockout`, `login_lockout`, `auto_defense`, `scanner_user_agent`, `static_defense`,
//! `country_ip`, `global_blocklist`), a failure with an account to the account's key (`account_lockout`),
//! and a failure to the tenant's key (`distributed_lockout`), in file order with the watermark at each
//! event. The records are written as the shells would get them. docs/engine.md quotes what it printed.

use std::collections::HashMap;
use std::time::Instant;

use _engine::emit::{Out, Source};
use _engine::event::{decode_json, Event};
use _engine::policy::Tenant;
use _engine::rules::{self, Check, Tenants};
use _engine::state::{ExtState, IpState, TenantState};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let raw = std::fs::read(&args[1]).expect("events");
    let doc = std::fs::read(&args[2]).expect("tenant document");
    let tenant = Tenant::from_json(&doc).expect("a tenant document");
    let events: Vec<Event> = raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| decode_json(l).expect("an event")).collect();
    let tenants: Tenants<'_> = HashMap::new();
    let mut best = f64::MAX;
    let mut made = 0;
    for _ in 0..5 {
        let (mut ips, mut exts, mut tens): (HashMap<String, IpState>, HashMap<String, ExtState>, HashMap<String, TenantState>) =
            Default::default();
        let mut out: Vec<Out> = Vec::new();
        let mut bytes = 0usize;
        let t0 = Instant::now();
        for event in &events {
            let Event::Security(ev) = event else { continue };
            let ts = event.time();
            let kind = rules::event_kind(event);
            let source = Source::Security { outcome: ev.outcome.as_str().to_string(), src_ip: ev.src_ip.clone(), account: ev.account.clone() };
            let mut c = Check { tenant: &tenant, tenants: &tenants, scope: "ip", ts, settled: ts, ident: u64::from(event.ident()),
                                source: &source, blocks_changed: false, out: &mut out };
            let st = ips.entry(ev.src_ip.clone()).or_default();
            if kind == "reg_failure" {
                rules::registration_lockout::check(&mut c, st, event, ev).unwrap();
            }
            if kind == "login_failure" {
                rules::login_lockout::check(&mut c, st, event, ev).unwrap();
            }
            rules::auto_defense::check(&mut c, st, event, ev).unwrap();
            rules::scanner_user_agent::check(&mut c, st, event, ev).unwrap();
            rules::static_defense::check(&mut c, st, Some(&ev.src_ip)).unwrap();
            rules::country_ip::check(&mut c, &mut st.incidents, Some(&mut st.blocks), event).unwrap();
            rules::global_blocklist::check(&mut c, st, event).unwrap();
            if kind == "reg_failure" || kind == "login_failure" {
                c.scope = "tenant";
                c.blocks_changed = false;
                let st = tens.entry(ev.tenant.clone()).or_default();
                rules::distributed_lockout::check(&mut c, st, ev).unwrap();
                rules::country_ip::check(&mut c, &mut st.incidents, None, event).unwrap();
                if let Some(account) = ev.account.as_deref().filter(|a| !a.is_empty()) {
                    c.scope = "ext";
                    let st = exts.entry(format!("{}/{account}", ev.tenant)).or_default();
                    rules::account_lockout::check(&mut c, st, event, ev).unwrap();
                }
            }
            for rec in out.drain(..) {
                let mut buf = Vec::with_capacity(512);
                match rec {
                    Out::Alert(a) => a.write(&mut buf).unwrap(),
                    Out::Seen(s) => s.write(&mut buf).unwrap(),
                }
                bytes += buf.len();
            }
        }
        best = best.min(t0.elapsed().as_secs_f64());
        made = bytes;
    }
    let n = events.len();
    println!("{n} events, {made} bytes of records: {:.2} µs per event ({:.0} events/s)", best * 1e6 / n as f64, n as f64 / best);
}
