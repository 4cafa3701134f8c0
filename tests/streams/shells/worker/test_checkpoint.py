"""The commit protocol of a stage, with no Faust and no broker: the state's changes are written and
every send is done before any record is acknowledged, and a failed send acknowledges nothing."""

import asyncio

import pytest

from streams.shells.worker.checkpoint import Checkpoint


class Log:
    def __init__(self, fail_send: bool = False):
        self.events: list = []
        self.fail_send = fail_send

    def flush(self, part):
        self.events.append(("flush", part))
        return [f"alert-{part}"], [(f"key-{part}", {"v": part}), (f"gone-{part}", None)]

    async def send(self, records):
        fut = asyncio.get_running_loop().create_future()
        self.events.append(("send", tuple(records)))
        if self.fail_send:
            fut.set_exception(ConnectionError("broker went away"))
        else:
            asyncio.get_running_loop().call_soon(lambda: (self.events.append(("sent", tuple(records))),
                                                          fut.set_result(None)))
        return [fut]

    async def write(self, key, value, part):
        fut = asyncio.get_running_loop().create_future()
        self.events.append(("write", key, value, part))
        asyncio.get_running_loop().call_soon(lambda: (self.events.append(("written", key)), fut.set_result(None)))
        return fut

    def ack(self, records):
        self.events.append(("ack", tuple(records)))


def checkpoint(log: Log) -> Checkpoint:
    return Checkpoint(log.flush, log.send, log.write, log.ack)


def test_records_are_acknowledged_only_after_the_state_and_every_send_are_on_kafka():
    log = Log()
    cp = checkpoint(log)

    async def run():
        cp.read(["r1", "r2"], {1, 0})
        cp.sent(await log.send(["rule-alert"]))
        await cp.commit(between=lambda: log.events.append(("between",)))
    asyncio.run(run())
    kinds = [e[0] for e in log.events]
    assert kinds.index("ack") == len(kinds) - 1 and log.events[-1] == ("ack", ("r1", "r2"))
    assert [e[1] for e in log.events if e[0] == "flush"] == [0, 1]  # partitions in order
    assert {e[1] for e in log.events if e[0] == "written"} == {"key-0", "gone-0", "key-1", "gone-1"}
    assert ("write", "gone-0", None, 0) in log.events  # a key whose state went is written as a tombstone
    assert kinds.index("between") > max(i for i, k in enumerate(kinds) if k == "write")
    assert kinds.count("sent") == 3  # the rule's alert and each partition's flush
    assert not cp.records and not cp.sends and not cp.touched and cp.since is None


def test_a_failed_send_acknowledges_nothing_so_the_records_are_read_again():
    log = Log(fail_send=True)
    cp = checkpoint(log)

    async def run():
        cp.read(["r1"], {0})
        await cp.commit()
    with pytest.raises(ConnectionError):
        asyncio.run(run())
    assert not any(e[0] == "ack" for e in log.events)
    assert cp.records == ["r1"]  # still owed: a restart reads it again, and the state absorbs it


def test_due_by_count_or_by_age():
    cp = checkpoint(Log())
    assert not cp.due(3, 60.0)
    cp.read(["a", "b", "c"], {0})
    assert cp.due(3, 60.0) and cp.since is not None
    cp.last -= 61
    assert cp.due(100, 60.0)


def test_a_batch_that_failed_midway_is_never_acknowledged_by_a_later_commit():
    """A send that raises (a full producer buffer, a record too large) after the batch's records were read:
    the old incident stage's next sweep acknowledged them without the updates they caused."""
    log = Log()
    cp = checkpoint(log)

    async def run():
        cp.read(["det@5"], {0})
        try:
            raise BufferError("producer buffer full")  # what emitter.send raised
        except BufferError as exc:
            cp.abort(exc)
        with pytest.raises(RuntimeError, match="restart"):
            await cp.commit()  # the sweep's commit, 5 s later
    asyncio.run(run())
    assert not any(e[0] == "ack" for e in log.events) and cp.records == ["det@5"]
