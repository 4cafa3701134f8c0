"""The nftables backend for real, inside a network namespace the test creates (the host's rules are untouched)."""

import time

from streams.services.enforce.applier import Applier
from streams.services.enforce.settings import Settings

from .helpers import action
from .netns import elements, netns, nft


def applier(ns):
    s = Settings.parse({"retry": {"attempts": 1},
                        "backends": [{"name": "fw", "type": "nftables", "create": True, "netns": ns}]})
    return Applier(s.backends)


def value(ap, name, **labels):
    return ap.metrics.registry.registry.get_sample_value(name, labels or None) or 0


def test_block_with_timeout_expiry_by_kernel_and_unblock():
    with netns() as ns:
        ap = applier(ns)
        ap.setup()
        ap.setup()  # idempotent: a second start adds no second rule
        chain = nft(ns, "list", "chain", "inet", "tollguard", "input").stdout
        assert chain.count("@blocked4 drop") == 1 and chain.count("@blocked6 drop") == 1, chain
        now = time.time()
        ap.submit(action(target="203.0.113.9", duration_s=3600, now=now))
        ap.submit(action(target="198.51.100.2", duration_s=2, now=now))
        ap.submit(action(target="2001:db8::7", duration_s=None, now=now))
        got = elements(ns)
        assert 3590 <= got["203.0.113.9"] <= 3600 and 1 <= got["198.51.100.2"] <= 2, got
        assert elements(ns, "blocked6") == {"2001:db8::7": None}
        deadline = time.monotonic() + 6
        while "198.51.100.2" in elements(ns) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert "198.51.100.2" not in elements(ns), "the 2 s block did not expire on its own"
        ap.submit(action(kind="unblock", target="203.0.113.9", duration_s=None))
        ap.submit(action(kind="unblock", target="203.0.113.9", duration_s=None))  # already gone: not a failure
        assert elements(ns) == {}
        assert value(ap, "tollguard_enforce_applied_total", backend="fw", kind="block_ip") == 3
        assert value(ap, "tollguard_enforce_applied_total", backend="fw", kind="unblock") == 2
        assert value(ap, "tollguard_enforce_failed_total", backend="fw", kind="block_ip") == 0


def test_hostile_target_never_reaches_nft():
    with netns() as ns:
        ap = applier(ns)
        ap.setup()
        nft(ns, "add", "table", "inet", "canary")
        for t in ("203.0.113.9 } ; flush ruleset", "$(id)", "203.0.113.9;delete table inet canary"):
            ap.submit(action(target=t))
        assert elements(ns) == {}
        assert nft(ns, "list", "table", "inet", "canary").returncode == 0
        assert value(ap, "tollguard_enforce_skipped_total", reason="refused") == 3


def test_failing_nft_is_retried_then_reported_and_other_backends_go_on(tmp_path):
    with netns() as ns:
        out = tmp_path / "ran"
        s = Settings.parse({"retry": {"attempts": 2, "backoff_s": 0},
                            "backends": [{"name": "fw", "type": "nftables", "netns": ns, "table": "absent"},
                                         {"name": "log", "type": "command", "kinds": ["block_ip"],
                                          "argv": ["/usr/bin/touch", str(out)]}]})
        ap = Applier(s.backends)
        ap.submit(action(), "t")
        assert out.exists() and ap.unsettled() == {"t"}
        ap.tick()
        assert value(ap, "tollguard_enforce_failed_total", backend="fw", kind="block_ip") == 1
        assert ap.unsettled() == set()


def test_never_blocked_addresses_never_reach_the_set():
    """Issue 25.3: LAN, link-local, CGNAT, unique-local, this host, scope ids: nft never runs for them."""
    from .test_never_block import HOST_OWN, NEVER_BLOCKED, own_host
    with netns() as ns:
        s = Settings.parse({"retry": {"attempts": 1},
                            "backends": [{"name": "fw", "type": "nftables", "create": True, "netns": ns}]},
                           host=own_host)
        ap = Applier(s.backends)
        ap.setup()
        now = time.time()
        for t in [*NEVER_BLOCKED, HOST_OWN]:
            ap.submit(action(target=t, now=now))
        ap.submit(action(target="203.0.113.9", now=now))  # the control: a public address is still blocked
        assert list(elements(ns)) == ["203.0.113.9"] and elements(ns, "blocked6") == {}
        assert value(ap, "tollguard_enforce_skipped_total", reason="refused") == len(NEVER_BLOCKED) + 1
        assert value(ap, "tollguard_enforce_failed_total", backend="fw", kind="block_ip") == 0


def country_policy(tmp_path, extra="country_ip_block: set\n"):
    p = tmp_path / "policy.yaml"
    p.write_text("allowed_country_ips: [GB]\nlan: [192.168.0.0/16]\n"
                 "static_defense: [{name: office, source: 8.8.4.0/24, action: accept}]\n" + extra)
    return str(p)


def test_country_set_holds_every_other_country_and_drops_new_connections_from_it(tmp_path):
    import iptocc
    gb = next(a for a in (f"81.{b}.0.1" for b in range(256)) if iptocc.country_code(a) == "GB")
    with netns() as ns:
        s = Settings.parse({"retry": {"attempts": 1}, "backends": [
            {"name": "fw", "type": "nftables", "create": True, "netns": ns,
             "country_set": {"policy": country_policy(tmp_path)}}]})
        ap = Applier(s.backends)
        assert ap.setup() == [] and ap.setup() == []  # a second start replaces the set, adds no second rule

        def has(ip):
            return nft(ns, "get", "element", "inet", "tollguard", "countries4", "{", ip, "}").returncode == 0

        assert has("8.8.8.8") and has("1.1.1.1")  # US and AU: not allowed
        assert not has(gb), gb  # allowed
        assert not has("8.8.4.4")  # the tenant's static accept, carved out
        assert not has("192.168.1.5") and not has("10.0.0.1")  # no country
        chain = nft(ns, "list", "chain", "inet", "tollguard", "input").stdout
        assert chain.count("@countries4 ct state new drop") == 1, chain


def test_country_set_refuses_a_policy_that_still_blocks_by_address_or_has_no_countries(tmp_path):
    import pytest
    from streams.kafka.config import ConfigError
    for extra, said in (("", "country_ip_block: address"), ):
        with pytest.raises(ConfigError, match=said):
            Settings.parse({"backends": [{"name": "fw", "type": "nftables",
                                          "country_set": {"policy": country_policy(tmp_path, extra)}}]})
    off = tmp_path / "off.yaml"
    off.write_text("country_ip_block: set\n")
    with pytest.raises(ConfigError, match="leaves `allowed_country_ips` off"):
        Settings.parse({"backends": [{"name": "fw", "type": "nftables", "country_set": {"policy": str(off)}}]})
    with pytest.raises(ConfigError, match="no tenant 'nope'"):
        Settings.parse({"backends": [{"name": "fw", "type": "nftables",
                                      "country_set": {"policy": country_policy(tmp_path), "tenant": "nope"}}]})
