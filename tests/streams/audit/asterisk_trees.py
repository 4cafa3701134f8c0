"""Asterisk configuration trees for the audit tests, written for them in the shapes of Asterisk's sample
files (a [general] section, peers, templates, PJSIP's endpoint/auth/aor triples, wizard templates, the
dialplan's globals and contexts). ``BAD`` holds every weakness the checks look for; ``CLEAN`` is a
hardened PBX that must give no finding at all."""

from __future__ import annotations

from pathlib import Path

BAD_SIP = """\
; chan_sip: a small office
[general]
context=default                 ; where guests land
allowoverlap=no
udpbindaddr=0.0.0.0
alwaysauthreject=no
#include sip_custom.conf

[office-phone](!)
type=friend
host=dynamic
context=phones
secret=Tmpl8Shared

[6001]
type=friend
host=dynamic
secret=6001
context=phones

[6002](office-phone)
callerid="Bob" <6002>

[6003](office-phone)
callerid="Carol" <6003>

[provider]
type=peer
host=203.0.113.10
context=from-trunk
insecure=port,invite
"""

BAD_SIP_CUSTOM = """\
; added later by hand
[6004]
type=friend
host=dynamic
context=phones
"""

BAD_EXTENSIONS = """\
[general]
static=yes
writeprotect=no

[globals]
TRUNK=SIP/provider
INTL=IAX2/carrier

[default]
include => demo
include => longdistance

[demo]
exten => 1000,1,Answer()
 same => n,Playback(hello-world)
 same => n,Hangup()

[longdistance]
exten => _1NXXNXXXXXX,1,Dial(${TRUNK}/${EXTEN},60)
include => intl

[intl]
exten => _011.,1,Dial(${INTL}/${EXTEN:3})

[phones]
include => longdistance
exten => _6XXX,1,Dial(SIP/${EXTEN},20)

[from-trunk]
exten => 5551234,1,Goto(phones,6001,1)

[public]
exten => _X.,1,Goto(outbound,${EXTEN},1)

[outbound]
exten => _00.,1,Gosub(trunkdial,s,1(${TRUNK}/${EXTEN}))

[trunkdial]
exten => s,1,Dial(${ARG1})
 same => n,Return()
"""

BAD_PJSIP = """\
[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0

[7001]
type=endpoint
context=phones
disallow=all
allow=ulaw
auth=7001
aors=7001

[7001]
type=auth
auth_type=userpass
username=7001
password=Abc7001xyz

[7001]
type=aor
max_contacts=1

[7002]
type=endpoint
context=phones
auth=auth7002
aors=7002

[auth7002]
type=auth
auth_type=userpass
username=k2Jd8sQp
password=1234

[7002]
type=aor
max_contacts=1

[7003]
type=endpoint
context=default

[anonymous]
type=endpoint
context=public

[mytrunk]
type=endpoint
context=from-trunk
outbound_auth=mytrunk-auth
aors=mytrunk

[mytrunk-auth]
type=auth
username=acct
password=tr

[mytrunk-identify]
type=identify
endpoint=mytrunk
match=203.0.113.20
"""

BAD_WIZARD = """\
[user_defaults](!)
type=wizard
accepts_auth=yes
accepts_registrations=yes
transport=transport-udp
endpoint/context=phones

[8001](user_defaults)
inbound_auth/username=8001
inbound_auth/password=password
"""

BAD_IAX = """\
[general]
bindport=4569

[guest]
type=user
context=default
callerid="Guest IAX User"

[iaxphone]
type=friend
host=dynamic
secret=Tmpl8Shared
context=phones
"""

BAD_MANAGER = """\
[general]
enabled = yes
port = 5038
bindaddr = 0.0.0.0
webenabled = yes

[admin]
secret = amp111
read = all
write = all

[monitor]
secret = Mon1t0rQzPw2
permit = 192.168.1.0/255.255.255.0
read = reporting
"""

BAD_HTTP = """\
[general]
enabled=yes
bindaddr=0.0.0.0
bindport=8088
"""

BAD = {
    "etc/asterisk/sip.conf": BAD_SIP,
    "etc/asterisk/sip_custom.conf": BAD_SIP_CUSTOM,
    "etc/asterisk/extensions.conf": BAD_EXTENSIONS,
    "etc/asterisk/pjsip.conf": BAD_PJSIP,
    "etc/asterisk/pjsip_wizard.conf": BAD_WIZARD,
    "etc/asterisk/iax.conf": BAD_IAX,
    "etc/asterisk/manager.conf": BAD_MANAGER,
    "etc/asterisk/http.conf": BAD_HTTP,
}

CLEAN_SIP = """\
[general]
context=guests-in
allowguest=no
alwaysauthreject=yes
tlsenable=yes
tlsbindaddr=0.0.0.0:5061

[phone](!)
type=friend
host=dynamic
context=phones
transport=tls
encryption=yes
deny=0.0.0.0/0.0.0.0
permit=192.168.10.0/255.255.255.0

[q7Tn4Rw2](phone)
secret=Vb4kLq9zRt
callerid="Alice" <6001>

[m2Xc8Hp5](phone)
secret=Hy6pWn3sKe
callerid="Bob" <6002>

[provider]
type=peer
host=203.0.113.10
context=from-trunk
insecure=port,invite
"""

CLEAN_EXTENSIONS = """\
[globals]
TRUNK=PJSIP

[guests-in]
exten => _X.,1,Hangup()

[default]
exten => s,1,Hangup()

[from-trunk]
exten => 5551234,1,Dial(SIP/q7Tn4Rw2,20)

[phones]
exten => _6XXX,1,Dial(SIP/${EXTEN},20)
exten => _00.,1,Dial(${TRUNK}/${EXTEN}@provider)
"""

CLEAN_PJSIP = """\
[transport-tls]
type=transport
protocol=tls
bind=0.0.0.0:5061

[acl-phones](!)
deny=0.0.0.0/0.0.0.0
permit=192.168.10.0/255.255.255.0

[7001](acl-phones)
type=endpoint
context=phones
auth=r8Kp2Vx6
aors=7001
callerid="Dana" <7001>
media_encryption=sdes

[r8Kp2Vx6]
type=auth
auth_type=userpass
username=r8Kp2Vx6
password=Jt5nQm8wZc

[7001]
type=aor
max_contacts=1

[provider]
type=endpoint
context=from-trunk
outbound_auth=provider-auth
identify_by=ip

[provider-auth]
type=auth
username=acct
password=tr

[provider]
type=identify
endpoint=provider
match=203.0.113.20
"""

CLEAN_WIZARD = """\
[user_defaults](!)
type=wizard
accepts_auth=yes
accepts_registrations=yes
transport=transport-tls
endpoint/context=phones
endpoint/media_encryption=sdes
endpoint/deny=0.0.0.0/0.0.0.0
endpoint/permit=192.168.10.0/255.255.255.0

[8001](user_defaults)
inbound_auth/username=Wd4hTs9kLe
inbound_auth/password=Gx3mRv7pNa
"""

CLEAN_IAX = """\
[general]
bindport=4569

[Kf5sYb3n]
type=friend
host=dynamic
secret=Pq2wEr6tYu
context=phones
deny=0.0.0.0/0.0.0.0
permit=192.168.10.0/255.255.255.0
"""

CLEAN_MANAGER = """\
[general]
enabled = yes
port = 5038
bindaddr = 127.0.0.1
webenabled = no

[crm]
secret = Zu7cKd4fXb2h
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = call
write = originate
"""

CLEAN_HTTP = """\
[general]
enabled=yes
bindaddr=127.0.0.1
bindport=8088
"""

CLEAN = {
    "etc/asterisk/sip.conf": CLEAN_SIP,
    "etc/asterisk/extensions.conf": CLEAN_EXTENSIONS,
    "etc/asterisk/pjsip.conf": CLEAN_PJSIP,
    "etc/asterisk/pjsip_wizard.conf": CLEAN_WIZARD,
    "etc/asterisk/iax.conf": CLEAN_IAX,
    "etc/asterisk/manager.conf": CLEAN_MANAGER,
    "etc/asterisk/http.conf": CLEAN_HTTP,
}


def write(root: Path, tree: dict[str, str]) -> Path:
    """The files of ``tree`` under ``root``; returns ``root``."""
    for rel, text in tree.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` line of ``text`` that holds ``needle``."""
    seen = 0
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    raise AssertionError(f"{needle!r} not in the text")
