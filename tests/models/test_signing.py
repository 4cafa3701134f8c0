"""Signed models (issue 25.7): anyone who can write to ``<prefix>.models`` could ship a model, since the card's
sha256 proves integrity, not origin. A worker loads a published model only when an Ed25519 signature by a key it
trusts covers the model's bytes, its card and its name (docs/models.md, "What is signed").

The attacker's records and signatures are built here by hand from the documented format, as an attacker (or
another signer) would, not through ``models.signing``."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models import artifact
from models.errors import ModelError
from models.features import FEATURES
from models.registry import ModelBook
from models.train import fit
from streams.cli import main
from tests.models.forge import activate, record, sha, signed_by

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default.skops"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two small real artifacts: (bytes, card) each."""
    d = tmp_path_factory.mktemp("signing")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, len(FEATURES)))
    out = []
    for seed in (1, 2):
        model, thr = fit(X, seed=seed)
        path = d / f"m{seed}.skops"
        card = artifact.save(model, path, thr, "abc", {"calls": 300})
        out.append((path.read_bytes(), card))
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The operator's key pair made by `tollguard model keygen`, and an attacker's own key."""
    d = tmp_path_factory.mktemp("keys")
    assert main(["model", "keygen", "--out", str(d / "k")]) == 0
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    trusted = load_pem_private_key((d / "k" / "model-signing.key").read_bytes(), password=None)
    return {"dir": d / "k", "pub": d / "k" / "model-signing.pub", "key": d / "k" / "model-signing.key",
            "trusted": trusted, "attacker": Ed25519PrivateKey.generate()}


def book_with(trusted_pub=None, allow_unsigned=False, *records) -> ModelBook:
    from models.signing import Trust
    book = ModelBook(trust=Trust.from_files([trusted_pub] if trusted_pub else [], allow_unsigned=allow_unsigned))
    for k, v in records:
        assert book.apply(k, v)
    return book


def refused(book, version, reason):
    from models.signing import ModelRefused
    with pytest.raises(ModelRefused) as exc:
        book.scorer("default", version)
    assert exc.value.reason == reason, str(exc.value)
    return str(exc.value)


def test_an_unsigned_model_on_the_topic_is_refused_by_default(models):
    """The attack on today's code: a record written straight to the topic loads. With no key configured, a
    worker refuses every published model (it keeps the bundled one)."""
    data, card = models[0]
    book = ModelBook()
    assert book.apply(*record(data, card))
    with pytest.raises(ModelError, match="no model public key"):
        book.scorer("default", sha(data)[:12])


def test_an_unsigned_model_is_refused_by_a_worker_with_a_key(models, keys):
    data, card = models[0]
    book = book_with(keys["pub"], False, record(data, card))
    assert "carries no signature" in refused(book, sha(data)[:12], "unsigned")


def test_a_correctly_signed_model_loads(models, keys):
    data, card = models[0]
    book = book_with(keys["pub"], False, record(data, card, signature=signed_by(keys["trusted"], "default", data, card)))
    scorer = book.scorer("default", sha(data)[:12])
    assert scorer.version == sha(data)[:12] and scorer.threshold == card["threshold"]


def test_a_signature_by_another_key_is_refused(models, keys):
    data, card = models[0]
    book = book_with(keys["pub"], False, record(data, card, signature=signed_by(keys["attacker"], "default", data, card)))
    assert "not trusted" in refused(book, sha(data)[:12], "unknown_key")


def test_another_key_claiming_the_trusted_fingerprint_is_refused(models, keys):
    data, card = models[0]
    trusted_fp = signed_by(keys["trusted"], "default", data, card)["key"]
    forged = signed_by(keys["attacker"], "default", data, card, claim=trusted_fp)
    refused(book_with(keys["pub"], False, record(data, card, signature=forged)), sha(data)[:12], "bad_signature")


def test_a_card_swapped_under_a_valid_signature_is_refused(models, keys):
    """The model bytes and the card's sha256 are untouched; a higher threshold would blind the detector."""
    data, card = models[0]
    sig = signed_by(keys["trusted"], "default", data, card)
    blind = dict(card, threshold=card["threshold"] + 10.0)
    book = book_with(keys["pub"], False, record(data, blind, signature=sig))
    assert "does not match" in refused(book, sha(data)[:12], "bad_signature")


def test_a_model_swapped_with_its_own_card_under_a_valid_signature_is_refused(models, keys):
    (data, card), (other, other_card) = models
    sig = signed_by(keys["trusted"], "default", data, card)
    book = book_with(keys["pub"], False, record(other, other_card, signature=sig))
    refused(book, sha(other)[:12], "bad_signature")


def test_a_model_signed_for_another_name_is_refused(models, keys):
    data, card = models[0]
    sig = signed_by(keys["trusted"], "canary", data, card)
    refused(book_with(keys["pub"], False, record(data, card, signature=sig)), sha(data)[:12], "bad_signature")


def test_allow_unsigned_takes_an_unsigned_model_but_not_a_bad_signature(models, keys):
    data, card = models[0]
    assert book_with(keys["pub"], True, record(data, card)).scorer("default", sha(data)[:12]).version == sha(data)[:12]
    forged = signed_by(keys["attacker"], "default", data, dict(card, threshold=0.0))
    refused(book_with(keys["pub"], True, record(data, card, signature=forged)), sha(data)[:12], "unknown_key")


def test_a_refused_version_is_loaded_once_a_signed_record_replaces_it(models, keys):
    """An attacker who publishes the real bytes unsigned first must not make the worker skip the signed record
    of the same version that follows."""
    from models.registry import Follower
    data, card = models[0]
    book = book_with(keys["pub"], False)
    changes, refusals = [], []
    follow = Follower(book, "default", lambda v, s: changes.append(v), refusals.append)
    book.apply(*record(data, card))
    book.apply(*activate(sha(data)[:12]))
    follow()
    follow()  # nothing new: not refused twice
    assert refusals == ["unsigned"] and changes == []
    book.apply(*record(data, card, signature=signed_by(keys["trusted"], "default", data, card)))
    follow()
    assert changes == [sha(data)[:12]] and refusals == ["unsigned"]


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(keys, capsys):
    mode = stat.S_IMODE(os.stat(keys["key"]).st_mode)
    assert mode == 0o600, oct(mode)
    assert b"PRIVATE KEY" in keys["key"].read_bytes() and b"PUBLIC KEY" in keys["pub"].read_bytes()
    before = keys["key"].read_bytes()
    assert main(["model", "keygen", "--out", str(keys["dir"])]) == 2
    assert "already exists" in capsys.readouterr().err and keys["key"].read_bytes() == before


def test_publish_signs_exactly_the_documented_statement(models, keys, tmp_path):
    """Ed25519 signatures are deterministic: the record `model publish` sends equals the hand-built one."""
    from models.registry import model_record
    from models.signing import load_private
    data, card = models[0]
    path = tmp_path / "m.skops"
    path.write_bytes(data)
    artifact.card_path(path).write_text(json.dumps(card))
    _, value, _ = model_record(path, "default", "ana", load_private(keys["key"]))
    assert json.loads(value)["signature"] == signed_by(keys["trusted"], "default", data, card)


@pytest.fixture
def nowhere(monkeypatch):
    """No broker: a refusal must come before publish connects."""
    monkeypatch.setenv("TOLLGUARD_BROKER", "kafka://127.0.0.1:9")
    monkeypatch.delenv("TOLLGUARD_MODEL_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("TOLLGUARD_MODEL_SIGNING_KEY", raising=False)


def test_publish_refuses_an_unsigned_artifact(nowhere, capsys):
    assert main(["model", "publish", str(DEFAULT)]) == 2
    assert "--signing-key" in capsys.readouterr().err


def test_publish_refuses_a_key_the_workers_do_not_trust(nowhere, keys, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["model", "keygen", "--out", str(other)]) == 0
    capsys.readouterr()
    code = main(["model", "publish", str(DEFAULT), "--signing-key", str(other / "model-signing.key"),
                 "--public-key", str(keys["pub"])])
    assert code == 2 and "not trusted" in capsys.readouterr().err


def test_a_worker_says_at_start_whose_models_it_takes(keys, caplog, monkeypatch):
    from types import SimpleNamespace

    from streams.cli import build_parser
    from streams.shells.worker import model_trust
    monkeypatch.delenv("TOLLGUARD_MODEL_PUBLIC_KEY", raising=False)
    caplog.set_level("INFO", "tollguard.models")
    config, scorer = SimpleNamespace(models="t.models"), SimpleNamespace(version="abc123")
    cases = [([], "every published model is refused"), (["--allow-unsigned"], "anyone who can write"),
             (["--model-public-key", str(keys["pub"])], "must be signed by key")]
    for flags, said in cases:
        caplog.clear()
        trust = model_trust(build_parser().parse_args(["worker", *flags]), config, scorer)
        assert said in caplog.text and bool(trust.keys) == ("--model-public-key" in flags)
    monkeypatch.setenv("TOLLGUARD_MODEL_PUBLIC_KEY", str(keys["pub"]))
    assert len(model_trust(build_parser().parse_args(["worker"]), config, scorer).keys) == 1
    monkeypatch.setenv("TOLLGUARD_MODEL_PUBLIC_KEY", str(keys["key"]))  # a private key is not a public key
    with pytest.raises(ModelError, match="not a readable PEM public key"):
        model_trust(build_parser().parse_args(["worker"]), config, scorer)
