"""global_blocklist: boundaries and behaviour."""
from tests.builders import actions, alerts, run, sec


def test_global_blocklist_shares_a_block_across_tenants():
    evs = [sec(t=i, action="register", account="1001", outcome="failure", tenant="acme") for i in range(10)]
    evs.append(sec(t=20, outcome="request", tenant="globex"))
    evs.append(sec(t=21, outcome="request", tenant="globex"))
    out = run(evs)
    g = alerts(out, "global_blocklist")
    assert len(g) == 1 and g[0].tenant == "globex" and g[0].evidence["blocked_by"] == ["acme"]
    assert [a.tenant for a in actions(out, "block_ip")] == ["acme", "globex"]

def test_global_blocklist_quiet_after_block_expires():
    evs = [sec(t=i, action="register", account="1001", outcome="failure", tenant="acme") for i in range(10)]
    evs.append(sec(t=1000, outcome="request", tenant="globex"))
    assert not alerts(run(evs), "global_blocklist")
