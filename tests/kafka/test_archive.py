"""`tollguard archive` to a folder, to a real OpenSSH SFTP server and to a real S3-compatible server (s3proxy),
both started by the tests on loopback: the newest N kept, a refused host key or bad credentials reported and
sent through notify's channels (issue 31.3, 31.4)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time

import pytest

from tests.kafka.conftest import ROOT
from tests.builders import webhook

pytestmark = pytest.mark.kafka
SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port: int, proc, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory):
    """OpenSSH's sshd from Debian, on a free loopback port, key authentication only, for this user."""
    if not os.path.exists(SSHD):
        pytest.skip(f"SFTP TEST NOT RUN: no {SSHD}: scripts/setup-system.sh installs Debian's openssh-server")
    if os.geteuid() != 0:
        pytest.skip("SFTP TEST NOT RUN: sshd needs root to switch to the logged-in user; run the tests as root")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=open(d / "sshd.log", "wb"))
    try:
        wait_port(port, proc)
        host_key = (d / "host.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        yield {"port": port, "identity": d / "client", "known_hosts": d / "known_hosts", "dir": d}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """s3proxy (filesystem backend), fetched through Maven by scripts/s3proxy.sh, on a free loopback port."""
    if not shutil.which("java"):
        pytest.skip("S3 TEST NOT RUN: no java on PATH (s3proxy is a Java server)")
    d = tmp_path_factory.mktemp("s3")
    port = free_port()
    ident, cred = "tollguard-test", "tollguard-test-credential"
    proc = subprocess.Popen([str(ROOT / "scripts" / "s3proxy.sh"), "run", str(port), str(d), ident, cred],
                            stdout=open(d / "s3.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, 120)
        env = {"AWS_ACCESS_KEY_ID": ident, "AWS_SECRET_ACCESS_KEY": cred, "AWS_REGION": "us-east-1"}
        import boto3
        from botocore.config import Config
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ident, aws_secret_access_key=cred,
                     region_name="us-east-1", config=Config(s3={"addressing_style": "path"})).create_bucket(Bucket="backups")
        yield {"endpoint": f"http://127.0.0.1:{port}", "env": env}
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def hook(tmp_path):
    """A notify configuration whose one channel is a local webhook; yields (path, what it received)."""
    with webhook() as (url, got):
        path = tmp_path / "notify.yaml"
        path.write_text(f"channels:\n  - {{name: soc, type: webhook, url: '{url}'}}\n")
        yield path, got


def archive(broker, prefix, *args, env=None):
    full = {**os.environ, "TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}",
            "TOLLGUARD_PARTITIONS": "2", **(env or {})}
    p = subprocess.run([sys.executable, "-m", "streams.cli", "archive", *map(str, args)], cwd=ROOT, env=full,
                       capture_output=True, text=True, timeout=180)
    assert "Traceback" not in p.stderr, p.stderr
    return p


@pytest.fixture
def topics(broker, prefix):
    env = {**os.environ, "TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2"}
    subprocess.run([sys.executable, "-m", "streams.cli", "topics", "--create"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def runs(broker, prefix, n, *args, env=None):
    """``n`` archives a second apart (their names are stamped to the second)."""
    for i in range(n):
        if i:
            time.sleep(1.1)
        p = archive(broker, prefix, *args, env=env)
        assert p.returncode == 0, p.stderr


def test_a_folder_keeps_the_newest_archives_each_a_backup(broker, prefix, topics, tmp_path):
    dest = tmp_path / "backups"
    policy = ROOT / "fixtures" / "policy.example.yaml"
    runs(broker, prefix, 3, "--to", f"file://{dest}", "--keep", "2", "--file", policy)
    names = sorted(p.name for p in dest.iterdir())
    assert len(names) == 2 and all(n.startswith(f"tollguard-{prefix}-") and n.endswith(".tar.gz") for n in names)
    assert oct((dest / names[-1]).stat().st_mode & 0o777) == "0o600"
    with tarfile.open(dest / names[-1]) as tar:
        assert "manifest.json" in tar.getnames()


def test_sftp_to_a_real_openssh_server_keeps_n_and_refuses_an_unknown_host(broker, prefix, topics, sftp_server, hook,
                                                                           tmp_path):
    url = f"sftp://root@127.0.0.1:{sftp_server['port']}{sftp_server['dir']}/archives"
    key = ["--identity", sftp_server["identity"], "--known-hosts", sftp_server["known_hosts"]]
    runs(broker, prefix, 3, "--to", url, "--keep", "2", *key)
    left = sorted(os.listdir(sftp_server["dir"] / "archives"))
    assert len(left) == 2 and all(n.startswith(f"tollguard-{prefix}-") for n in left)
    stranger = tmp_path / "known_hosts"
    stranger.write_text("")  # the server's key is not known: a man in the middle would look like this
    notify, got = hook
    p = archive(broker, prefix, "--to", url, "--identity", sftp_server["identity"], "--known-hosts", stranger,
                "--notify", notify)
    assert p.returncode == 1 and "FAILED" in p.stderr and "Host key verification failed" in p.stderr
    assert [m["type"] for m in got] == ["archive_failure"] and "127.0.0.1" in got[0]["reason"]
    assert sorted(os.listdir(sftp_server["dir"] / "archives")) == left  # nothing sent, nothing deleted


def test_s3_to_a_real_s3_compatible_server_keeps_n_and_reports_bad_credentials(broker, prefix, topics, s3_server, hook):
    url, endpoint = f"s3://backups/tollguard/{prefix}", s3_server["endpoint"]
    runs(broker, prefix, 3, "--to", url, "--endpoint", endpoint, "--keep", "2", env=s3_server["env"])
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                   response_checksum_validation="when_required"),
                     aws_access_key_id=s3_server["env"]["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=s3_server["env"]["AWS_SECRET_ACCESS_KEY"])
    keys = sorted(o["Key"] for o in c.list_objects_v2(Bucket="backups", Prefix=f"tollguard/{prefix}/")["Contents"])
    assert len(keys) == 2
    body = c.get_object(Bucket="backups", Key=keys[-1])["Body"].read()
    assert body[:2] == b"\x1f\x8b"  # gzip: the backup itself
    notify, got = hook
    wrong = {**s3_server["env"], "AWS_SECRET_ACCESS_KEY": "not-the-credential"}
    p = archive(broker, prefix, "--to", url, "--endpoint", endpoint, "--notify", notify, env=wrong)
    assert p.returncode == 1 and "FAILED" in p.stderr and "not-the-credential" not in p.stderr
    assert [m["type"] for m in got] == ["archive_failure"]


def test_a_destination_it_cannot_use_is_one_line_and_exit_2(broker, prefix):
    for url in ("ftp://host/x", "sftp://host/x", "sftp://u:pw@host/x", "s3:///x"):
        p = archive(broker, prefix, "--to", url)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, (url, p.stderr)
