"""The console in-process (Starlette's test client): who may see and do what, and hostile text shown as text.
The page in a real browser, fed by a real worker, is tests/kafka/test_console.py."""

import re

import pytest
from starlette.testclient import TestClient

from streams.services.console.app import Sessions, make_app
from streams.services.console.store import IncidentStore
from streams.services.console.users import UserBook, UserError, add


class Recorded:
    """The console's command port, recording what it was asked to send (the Kafka one is tested with the broker)."""

    def __init__(self):
        self.sent = []

    def decide(self, rec, status, note, verdict, by):
        self.sent.append(("decide", rec["incident_id"], status, note, verdict, by))

    def unblock(self, rec, target, reason, by):
        self.sent.append(("unblock", rec["incident_id"], target, by))


def incident(n, tenant="acme", subject="1001", summary="Extension 1001 called +882 too often", **kw):
    rec = {"type": "incident", "incident_id": f"i-{n}", "tenant": tenant, "subject_type": "extension",
           "subject": subject, "status": "open", "opened": f"2026-11-30T10:{n % 60:02d}:00+00:00",
           "last_seen": f"2026-11-30T10:{n % 60:02d}:30+00:00", "until": None, "severity": "critical",
           "rules": ["premium_rate"], "alert_ids": [f"a-{n}"], "action_ids": ["x"], "events": 3, "cost": 12.5,
           "summary": summary, "version": 1, "decisions": [],
           "actions": [{"action_id": "x", "kind": "disable_outbound", "target": subject, "duration_s": 3600,
                        "ts": "2026-11-30T10:00:00+00:00"}]}
    rec.update(kw)
    return rec


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    path = tmp_path_factory.mktemp("console") / "users.json"
    add(path, "ana", "analyst", None, "correct horse")
    add(path, "vic", "viewer", None, "battery staple")
    add(path, "tom", "analyst", "acme", "tenant bound")
    return UserBook.load(path)


@pytest.fixture
def console(users):
    store = IncidentStore()
    store.apply(incident(1))
    store.apply(incident(2, tenant="globex", subject="2002", summary="Globex 2002 called Cuba"))
    store.apply_alert({"type": "alert", "alert_id": "a-1", "tenant": "acme", "rule": "premium_rate", "severity": "critical",
                       "ts": "2026-11-30T10:01:00+00:00", "subject_type": "extension", "subject": "1001",
                       "summary": "called a premium number", "evidence": {"e164": "+88213000000", "limit": 0,
                                                                          "user_agent": "<b>friendly-scanner</b>"}})
    commands = Recorded()
    app = make_app(store, users, commands)
    return store, commands, app


def login(app, name, password, client=("testclient", 50000)):
    c = TestClient(app, base_url="https://testserver", client=client)  # the cookie is Secure: sent over https only
    r = c.post("/login", data={"name": name, "password": password}, follow_redirects=False)
    return c, r


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_a_wrong_password_or_unknown_name_is_refused_and_pages_need_a_login(console):
    _, _, app = console
    for name, pw in (("ana", "wrong"), ("nobody", "correct horse")):
        c, r = login(app, name, pw)
        assert r.status_code == 401 and "Wrong name or password" in r.text
    c = TestClient(app)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    assert c.get("/api/incidents").status_code == 401


def test_an_analyst_sees_every_tenant_and_acks_and_resolves_with_a_verdict(console):
    store, commands, app = console
    c, r = login(app, "ana", "correct horse")
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = c.get("/")
    assert "i-1" in page.text and "i-2" in page.text
    detail = c.get("/incident/i-1")
    token = csrf_of(detail.text)
    assert c.post("/incident/i-1/ack", data={"csrf": token, "note": "looking"}, follow_redirects=False).status_code == 303
    assert c.post("/incident/i-1/resolve", data={"csrf": token, "note": "it was a test call",
                                                  "verdict": "false_positive"}, follow_redirects=False).status_code == 303
    assert commands.sent == [("decide", "i-1", "acknowledged", "looking", None, "ana"),
                             ("decide", "i-1", "resolved", "it was a test call", "false_positive", "ana")]
    assert c.post("/incident/i-1/unblock", data={"csrf": token, "target": "1001"}, follow_redirects=False).status_code == 303
    assert commands.sent[-1] == ("unblock", "i-1", "1001", "ana")
    # a target the incident never blocked is refused (the form is not a general unblock)
    assert c.post("/incident/i-1/unblock", data={"csrf": token, "target": "9.9.9.9"}).status_code == 400


def test_actions_need_the_sessions_csrf_token(console):
    _, commands, app = console
    c, _ = login(app, "ana", "correct horse")
    for data in ({"note": "x"}, {"csrf": "forged", "note": "x"}):
        assert c.post("/incident/i-1/ack", data=data).status_code == 403
    other, _ = login(app, "ana", "correct horse")  # another session's token does not do either
    token = csrf_of(other.get("/incident/i-1").text)
    c2, _ = login(app, "ana", "correct horse")
    assert c2.post("/incident/i-1/ack", data={"csrf": token}).status_code == 403
    assert commands.sent == []


def test_a_viewer_sees_but_cannot_act(console):
    _, commands, app = console
    c, _ = login(app, "vic", "battery staple")
    detail = c.get("/incident/i-1")
    assert detail.status_code == 200 and 'id="ack"' not in detail.text and "viewer" in detail.text
    token = csrf_of(detail.text)  # the logout form's token: a viewer has one, and it still does not let them act
    for what in ("ack", "resolve", "unblock"):
        assert c.post(f"/incident/i-1/{what}", data={"csrf": token, "target": "1001", "verdict": "true_positive"}
                      ).status_code == 403
    assert commands.sent == []


def test_a_tenant_bound_user_never_sees_another_tenant(console):
    store, commands, app = console
    c, _ = login(app, "tom", "tenant bound")
    assert "i-2" not in c.get("/").text and "Globex" not in c.get("/").text
    assert [i["incident_id"] for i in c.get("/api/incidents").json()["incidents"]] == ["i-1"]
    assert [i["incident_id"] for i in c.get("/api/incidents?tenant=globex").json()["incidents"]] == []
    assert c.get("/incident/i-2").status_code == 404
    assert c.post("/incident/i-2/ack", data={"csrf": csrf_of(c.get("/incident/i-1").text)}).status_code in (403, 404)
    assert commands.sent == []
    recs, _ = store.changed_since(users_of(app, "tom"), 0)
    assert {r["tenant"] for r in recs} == {"acme"}


def users_of(app, name):
    from streams.services.console.users import User
    return User(name, "analyst", "acme")


def test_hostile_text_is_shown_as_text(console):
    store, _, app = console
    store.apply(incident(3, subject="<script>alert(1)</script>", summary="ua \x1b]0;owned\x07 \u202eevil"))
    c, _ = login(app, "ana", "correct horse")
    for html in (c.get("/").text, c.get("/incident/i-3").text):
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "\x1b" not in html and "\u202e" not in html and "\\x1b]0;owned\\x07" in html
    detail = c.get("/incident/i-1").text
    assert "&lt;b&gt;friendly-scanner&lt;/b&gt;" in detail  # an alert's evidence
    assert "script-src 'self'" in c.get("/").headers["content-security-policy"]


def test_sessions_expire_after_their_idle_time():
    now = [1000.0]
    s = Sessions(seconds=60, max_seconds=3600, clock=lambda: now[0])
    from streams.services.console.users import User
    token = s.open(User("ana", "analyst"))
    now[0] += 59
    assert s.get(token) is not None
    now[0] += 61
    assert s.get(token) is None
    token = s.open(User("ana", "analyst"))
    for _ in range(70):  # used every 55 s, it still ends at max_seconds
        now[0] += 55
        alive = s.get(token)
    assert alive is None


def test_the_store_keeps_the_newest_version_and_stays_bounded():
    from streams.services.console.users import User
    store = IncidentStore(max_incidents=100)
    for n in range(300):
        store.apply(incident(n, status="resolved" if n % 2 else "open"))
    assert len(store) == 100 and store.dropped == 200
    kept = next(iter(store._by_id))
    assert all(r["status"] == "open" for r in store._by_id.values())  # closed incidents go first
    assert not store.apply(incident(int(kept[2:]), version=0))  # an older version does not win
    store.apply({"type": "nonsense"})
    assert store.unreadable == 1
    shown, total = store.query(User("ana", "analyst"), status="open")
    assert total == len(shown) and all(r["status"] == "open" for r in shown)


def test_a_users_file_must_hold_argon2_hashes(tmp_path):
    p = tmp_path / "u.json"
    p.write_text('{"users": [{"name": "x", "role": "analyst", "hash": "plaintext"}]}')
    with pytest.raises(UserError, match="argon2"):
        UserBook.load(p)
    with pytest.raises(UserError, match="8 characters"):
        add(tmp_path / "v.json", "x", "analyst", None, "short")
    add(tmp_path / "v.json", "x", "analyst", None, "long enough")
    assert oct((tmp_path / "v.json").stat().st_mode & 0o777) == "0o600"
    assert '"hash": "$argon2id$' in (tmp_path / "v.json").read_text()


def test_with_ten_thousand_incidents_the_page_shows_the_newest_500_and_says_how_many(users):
    store = IncidentStore()
    for n in range(10_000):
        store.apply(incident(n, last_seen=f"2026-11-{1 + n // 1000:02d}T{n % 24:02d}:{n % 60:02d}:00+00:00"))
    c, _ = login(make_app(store, users, Recorded()), "ana", "correct horse")
    page = c.get("/").text
    assert page.count("<tr data-id=") == 500 and '<span id="total">10000</span>' in page
    newest = c.get("/api/incidents").json()["incidents"][0]["last_seen"]
    assert newest.startswith("2026-11-10")


def test_the_health_panel_reads_the_workers_own_metrics():
    from prometheus_client import generate_latest
    from streams.services.console.feed import worker_health
    from streams.shells.worker.metrics import WorkerMetrics
    from tests.builders import serving
    m = WorkerMetrics()
    m.events.labels("p.cdr").inc(120)
    m.dlq.inc(2)
    m.lag.labels("p.cdr", "0").set(7)
    with serving(generate_latest(m.m.registry)) as url:
        h = worker_health(url)
    assert h["known"] and (h["events"], h["dead_letters"], h["lag"]) == (120, 2, 7)
    assert not worker_health("http://127.0.0.1:9/metrics")["known"]


def test_one_change_wakes_every_live_stream():
    import asyncio
    from streams.services.console.app import Wake

    async def go():
        wake = Wake()
        a, b = wake.current(), wake.current()  # two streams looked for changes, then wait
        wake.ring()
        await asyncio.wait_for(asyncio.gather(a.wait(), b.wait()), 1)
        assert wake.current() is not a  # the next look waits for the next change
    asyncio.run(go())


def test_eleven_wrong_passwords_in_a_row_get_429_even_then_the_right_one(console):
    """The attack: 20 wrong passwords in 2 s all got 401, then the right one got in."""
    _, _, app = console
    answers = [login(app, "ana", f"guess {n}")[1] for n in range(11)]
    assert [r.status_code for r in answers] == [401] * 10 + [429]
    assert 590 <= int(answers[-1].headers["retry-after"]) <= 600
    c, r = login(app, "ana", "correct horse")
    assert r.status_code == 429 and "retry-after" in r.headers
    assert c.get("/api/incidents").status_code == 401


def test_one_address_rotating_names_and_one_name_from_many_addresses_are_both_throttled(console):
    _, _, app = console
    here = ("192.0.2.7", 4000)
    assert [login(app, f"user{n}", "x", client=here)[1].status_code for n in range(11)] == [401] * 10 + [429]
    assert login(app, "vic", "battery staple", client=here)[1].status_code == 429  # the address is throttled
    assert login(app, "vic", "battery staple", client=("192.0.2.8", 4000))[1].status_code == 303
    spread = [login(app, "tom", "x", client=(f"198.51.100.{n}", 4000))[1].status_code for n in range(11)]
    assert spread == [401] * 10 + [429]  # the name is throttled, whoever asks


def test_a_logout_without_the_csrf_token_still_ends_the_session_on_the_server(console):
    """The attack: a logout without a valid CSRF token deleted the cookie, and the old token still read the API."""
    _, _, app = console
    for form in ({}, {"csrf": "forged"}):
        c, _ = login(app, "ana", "correct horse")
        token = c.cookies.get("tollguard_session")
        assert c.get("/api/incidents").status_code == 200
        assert c.post("/logout", data=form, follow_redirects=False).status_code == 303
        stolen = TestClient(app, base_url="https://testserver", cookies={"tollguard_session": token})
        assert stolen.get("/api/incidents").status_code == 401


def test_the_session_cookie_is_secure_unless_asked_not_to_be(console, users):
    _, _, app = console
    _, r = login(app, "ana", "correct horse")
    assert "; secure" in r.headers["set-cookie"].lower()
    _, r = login(make_app(IncidentStore(), users, Recorded(), secure_cookie=False), "ana", "correct horse")
    assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()


class SlowBook:
    """A users file whose every check takes 0.4 s and counts how many run at once (as argon2id, 64 MiB each)."""

    def __init__(self):
        import threading
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def check(self, name, password):
        import time
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.4)
        with self.lock:
            self.now -= 1
        return None


def test_at_most_two_password_checks_run_at_once_and_the_page_stays_responsive():
    """The attack: a flood of logins ran an argon2id verify (64 MiB) each, all at once."""
    import asyncio
    import time

    import httpx2 as httpx
    book = SlowBook()
    app = make_app(IncidentStore(), book, Recorded())

    async def flood():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
            logins = [asyncio.create_task(c.post("/login", data={"name": f"n{i}", "password": "x"})) for i in range(8)]
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            page = await c.get("/login")
            answered = time.monotonic() - t0
            return [r.status_code for r in await asyncio.gather(*logins)], page.status_code, answered

    statuses, page, answered = asyncio.run(flood())
    assert book.most <= 2, f"{book.most} password checks ran at once"
    assert set(statuses) <= {401, 429} and 429 in statuses  # the ones that waited too long are told to retry
    assert page == 200 and answered < 0.3  # the checks do not hold the event loop


def test_a_users_file_with_a_key_given_twice_is_refused_with_its_line(tmp_path):
    p = tmp_path / "u.json"
    add(p, "ana", "analyst", None, "correct horse")
    hashed = UserBook.load(p)._entries["ana"][1]
    p.write_text('{"users": [\n'
                 f' {{"name": "ana", "role": "viewer", "tenant": null, "hash": "{hashed}"}},\n'
                 f' {{"name": "bob", "role": "viewer",\n  "role": "analyst", "hash": "{hashed}"}}\n'
                 ']}\n')
    with pytest.raises(UserError, match=rf"^{re.escape(str(p))}:4: .*'role'.* twice"):
        UserBook.load(p)
    with pytest.raises(UserError, match=r":4: "):  # `user add` refuses to rewrite it too
        add(p, "cy", "viewer", None, "long enough")
    p.write_text('{"users": [\n'
                 f' {{"name": "ana", "role": "viewer", "tenant": null, "hash": "{hashed}"}},\n'
                 f' {{"name": "ana", "role": "analyst", "tenant": null, "hash": "{hashed}"}}\n'
                 ']}\n')
    with pytest.raises(UserError, match=rf"^{re.escape(str(p))}:3: .*'ana'.* twice"):
        UserBook.load(p)


def test_the_throttle_lifts_when_the_window_passes_and_a_success_clears_the_name():
    from streams.services.console.throttle import LoginThrottle
    now = [0.0]
    t = LoginThrottle(failures=10, window=600, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 30
        assert t.charge("ana", "192.0.2.1")[0] == 0
    assert t.wait("ana", "192.0.2.9") == 600 - 270  # until the first of the ten leaves the window
    now[0] += 329
    assert t.wait("ana", "192.0.2.9") == 1
    now[0] += 1
    assert t.wait("ana", "192.0.2.9") == 0  # one more try: the window slides
    wait, charged = t.charge("ana", "192.0.2.9")
    assert wait == 0 and t.wait("ana", "192.0.2.10") == 30  # it failed: throttled again until the next one leaves
    t.refund("ana", "192.0.2.9", charged)  # it was the right password after all
    assert t.wait("ana", "192.0.2.10") == 0


def test_the_throttle_counts_an_ipv6_client_by_its_64_and_stays_bounded():
    from streams.services.console.throttle import LoginThrottle
    t = LoginThrottle(failures=10, window=600, max_keys=1000)
    for n in range(10):
        t.charge(f"name{n}", f"2001:db8:1:2::{n + 1:x}")
    assert t.wait("other", "2001:db8:1:2:ffff::1") > 0 and t.wait("other", "2001:db8:1:3::1") == 0
    for n in range(5000):  # an attacker rotating names and addresses
        t.charge(f"rotating{n}", f"203.0.{n // 250}.{n % 250}")
    assert len(t) == 1000


def test_a_cross_site_logout_is_refused_and_leaves_the_session(console):
    _, _, app = console
    c, _ = login(app, "ana", "correct horse")
    r = c.post("/logout", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert c.get("/api/incidents").status_code == 200
    assert c.post("/logout", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False).status_code == 303
    assert c.get("/api/incidents").status_code == 401


def test_a_campaign_shows_its_size_and_members_with_a_search_for_each(console):
    store, _, app = console
    members = {"distinct": 29000, "estimated": True, "sample": [["203.0.113.7", 2], ["<img src=x>", 1]]}
    store.apply(incident(5, subject_type="campaign", subject="2026-11-30T10:00:00Z", rules=["country_ip"],
                         campaign={"window_start": "2026-11-30T10:00:00Z", "families": {"country": 30000},
                                   "events": 30000, "events_estimated": True, "detections": 30000,
                                   "sources": members, "accounts": {"distinct": 2, "estimated": False,
                                                                    "sample": [["<b>1001</b>", 3], ["1002", 1]]},
                                   "countries": {"distinct": 1, "estimated": False, "sample": [["NL", 30000]]},
                                   "actions": {"block_ip": 30000}}))
    c, _ = login(app, "ana", "correct horse")
    assert "campaign of country: ~30,000 events from ~29,000 sources against 2 accounts (most from NL 30,000)" \
        in c.get("/").text
    detail = c.get("/incident/i-5").text
    assert 'href="/?q=203.0.113.7"' in detail and "sources: ~29000 (estimated)" in detail
    assert "<b>1001</b>" not in detail and "&lt;b&gt;1001&lt;/b&gt;" in detail and "<img" not in detail
    assert 'href="/incident/i-5"' in c.get("/?q=203.0.113.7").text  # a member's search finds its campaign


def test_the_list_shows_what_matters_first_then_the_other_orders_a_click_away(users):
    store = IncidentStore()
    store.apply(incident(1, severity="warning", cost=500.0, subject="1001"))        # newest, but only a warning
    store.apply(incident(2, severity="critical", cost=79.47, subject="1004", opened="2026-11-30T09:00:00+00:00",
                         last_seen="2026-11-30T09:05:00+00:00"))                      # the fraud: oldest, most money
    store.apply(incident(3, severity="critical", cost=0.03, subject="200"))
    store.apply(incident(4, severity="information", cost=None, subject="300"))
    c, _ = login(make_app(store, users, Recorded()), "ana", "correct horse")
    order = lambda html: re.findall(r'<tr data-id="(i-\d+)"', html)  # noqa: E731
    assert order(c.get("/").text) == ["i-2", "i-3", "i-1", "i-4"]  # severity, then money at risk
    assert order(c.get("/?sort=cost").text) == ["i-1", "i-2", "i-3", "i-4"]
    assert order(c.get("/?sort=newest").text)[0] in ("i-3", "i-4", "i-1") and order(c.get("/?sort=newest").text)[-1] == "i-2"
    assert [i["incident_id"] for i in c.get("/api/incidents").json()["incidents"]] == ["i-2", "i-3", "i-1", "i-4"]


def test_statuses_say_who_decided_and_quiet_is_not_handled(users):
    store = IncidentStore()
    store.apply(incident(1, status="closed"))
    store.apply(incident(2, status="updated", version=3))
    store.apply(incident(3, status="resolved", verdict="true_positive",
                         decisions=[{"status": "resolved", "by": "ana", "at": "2026-11-30T11:00:00+00:00",
                                     "verdict": "true_positive"}]))
    store.apply(incident(4, status="resolved", decisions=[{"status": "resolved", "by": "ana", "at": "x",
                                                           "verdict": "false_positive"}]))
    store.apply(incident(5, status="acknowledged"))
    c, _ = login(make_app(store, users, Recorded()), "ana", "correct horse")
    page = c.get("/").text
    shown = dict(re.findall(r'<tr data-id="(i-\d+)".*?<td class="status">([^<]*)</td>', page, re.S))
    assert shown == {"i-1": "quiet", "i-2": "open", "i-3": "resolved (fraud)", "i-4": "resolved (not fraud)",
                     "i-5": "acknowledged"}
    assert re.findall(r'data-id="(i-\d+)"', c.get("/?status=quiet").text) == ["i-1"]
    assert re.findall(r'data-id="(i-\d+)"', c.get("/?status=closed").text) == ["i-1"]  # an old link still works


def test_a_quiet_incident_can_be_acknowledged_and_resolved_and_only_live_blocks_offer_unblock(users):
    import time
    from datetime import datetime, timezone
    now = datetime.fromtimestamp(time.time(), timezone.utc).isoformat()
    store = IncidentStore()
    store.apply(incident(1, status="closed", actions=[
        {"action_id": "old", "kind": "block_ip", "target": "203.0.113.9", "duration_s": 600, "ts": "2026-11-30T10:00:00+00:00"},
        {"action_id": "live", "kind": "disable_outbound", "target": "1001", "duration_s": 3600, "ts": now},
        {"action_id": "ever", "kind": "block_number", "target": "+88213000000", "duration_s": None,
         "ts": "2026-11-30T10:00:00+00:00"}]))
    store.apply(incident(2, status="resolved", verdict="false_positive"))
    c, _ = login(make_app(store, users, Recorded()), "ana", "correct horse")
    page = c.get("/incident/i-1").text
    assert 'id="ack"' in page and 'id="resolve"' in page and ">quiet<" in page
    unblock = re.findall(r'name="target" value="([^"]+)"><button class="unblock">', page)
    assert sorted(unblock) == ["+88213000000", "1001"]  # the 600 s block ran out in November
    assert ">over<" in page
    done = c.get("/incident/i-2").text
    assert 'id="ack"' not in done and 'id="resolve"' not in done


def test_times_are_to_the_second_in_the_consoles_zone_and_charts_have_axes(users):
    store = IncidentStore()
    store.apply(incident(1, opened="2026-11-30T10:01:02.123456+00:00"))
    store.apply_alert({"type": "alert", "alert_id": "a-1", "tenant": "acme", "rule": "premium_rate", "severity": "critical",
                       "ts": "2026-11-30T23:30:00+00:00", "subject_type": "extension", "subject": "1001",
                       "summary": "s", "evidence": {}})
    c, _ = login(make_app(store, users, Recorded(), tz="Asia/Tokyo"), "ana", "correct horse")
    page = c.get("/").text
    assert '<td class="opened">2026-11-30 19:01:02</td>' in page  # 10:01:02 UTC is 19:01:02 in Tokyo, no microseconds
    assert "times in Asia/Tokyo" in page
    assert page.count('class="axis"') == 4 and "hour (Asia/Tokyo)" in page and "2026-12-01 08h" in page
    assert 'class="legend' in page and 'id="prevented"' in page  # says why money prevented is not on the page
    css = c.get("/static/console.css").text
    assert "th { white-space: nowrap; }" in css
