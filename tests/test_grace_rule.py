"""grace under two scan intervals would split sessions at every late scan: the hub refuses to start
with it, and a node given such a config keeps the one it has."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import zmq

from common.protocol import Config, decode_report, config_frame, make_config
from common.timing import grace_problem
from common.watchlist import WatchEntry
from tests.fakeapps import unique_name
from tests.processes import Running, free_port, run_cli, start
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("interval, grace", [(5.0, 0.0), (5.0, 4.0), (5.0, 9.9), (0.5, 0.99)])
def test_the_rule_refuses_grace_under_two_intervals(interval: float, grace: float) -> None:
    assert grace_problem(interval, grace) is not None


@pytest.mark.parametrize("interval, grace", [(5.0, 30.0), (5.0, 10.0), (0.5, 2.0), (0.05, 0.1)])
def test_the_rule_accepts_grace_of_two_intervals_or_more(interval: float, grace: float) -> None:
    assert grace_problem(interval, grace) is None


@pytest.mark.parametrize("args, toml", [
    (("--interval", "5", "--grace", "0"), ""),
    (("--interval", "5", "--grace", "3"), ""),
    # Each value is valid alone, and they come from different layers: the pair is what is wrong.
    (("--interval", "20",), "grace = 30.0\n"),
])
def test_the_hub_refuses_grace_under_two_intervals_with_one_line(tmp_path: Path, args, toml: str) -> None:
    (tmp_path / "hub.toml").write_text(toml)
    result = run_cli("hub", "run", "--config", "hub.toml", "--db", "sqlite:///usage.db",
                     "--watch", "watch.txt", *args, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("procmesh-hub: error: grace ") and "twice the interval" in line
    # Refused before anything was created.
    assert not (tmp_path / "usage.db").exists() and not (tmp_path / "watch.txt").exists()


class FakeHub:
    """The hub's two sockets held by the test, so it can send a node any config it likes."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.ctx.linger = 0
        self.xpub = self.ctx.socket(zmq.XPUB)
        self.pull = self.ctx.socket(zmq.PULL)
        self.config_port, self.report_port = free_port(), free_port()
        self.xpub.bind(f"tcp://127.0.0.1:{self.config_port}")
        self.pull.bind(f"tcp://127.0.0.1:{self.report_port}")

    def welcome(self, config: Config) -> None:
        self.xpub.setsockopt(zmq.XPUB_WELCOME_MSG, config_frame(config))

    def publish(self, config: Config) -> None:
        self.xpub.send(config_frame(config))

    def serve(self) -> None:
        """Read subscriptions: libzmq attaches a new subscriber (and sends it the welcome message)
        only while the socket's own thread calls into it, as the hub's loop does all the time."""
        while self.xpub.poll(0):
            self.xpub.recv()

    def report_digests(self) -> list[str]:
        """The config digest of each report that arrived since the last call."""
        self.serve()
        digests = []
        while self.pull.poll(0):
            digests.append(decode_report(self.pull.recv()).cfg)
        return digests

    def close(self) -> None:
        self.xpub.close()
        self.pull.close()
        self.ctx.term()


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    yield hub
    hub.close()


def reports_with(hub: FakeHub, digest: str, count: int, seen: list[str]) -> bool:
    seen += hub.report_digests()
    return seen.count(digest) >= count


def logged(hub: FakeHub, node: Running, text: str) -> None:
    wait_for(lambda: hub.serve() or text in node.log() or node.proc.poll() is not None, 15,
             f"{text!r} in the node's log")
    assert text in node.log(), node.log()


def test_a_node_given_a_config_it_cannot_use_keeps_the_last_good_one_and_logs_why(
        tmp_path: Path, fake_hub: FakeHub) -> None:
    watch = (WatchEntry(unique_name(), ("whatever",)),)
    unusable = make_config(watch, 0.5, 0.5, 1, 1_790_000_000.0)
    good = make_config(watch, 0.5, 2.0, 2, 1_790_000_000.0)
    fake_hub.welcome(unusable)
    node: Running = start("node", ["--config-endpoint", f"tcp://127.0.0.1:{fake_hub.config_port}",
                                   "--report-endpoint", f"tcp://127.0.0.1:{fake_hub.report_port}",
                                   "--node-id", "picky"], tmp_path, "node.log")
    try:
        logged(fake_hub, node, f"ignored config {unusable.digest} from the hub: grace 0.5 s is less "
                               "than twice the interval 0.5 s")
        assert "not scanning until a usable one" in node.log()
        fake_hub.publish(good)
        seen: list[str] = []
        wait_for(lambda: reports_with(fake_hub, good.digest, 2, seen), 15, "reports under the good config")

        fake_hub.publish(unusable)
        logged(fake_hub, node, "keeping the one in force")
        # It keeps scanning and reporting under the good config.
        after = seen.count(good.digest)
        wait_for(lambda: reports_with(fake_hub, good.digest, after + 3, seen), 15, "more reports")
        assert set(seen) == {good.digest}
        assert node.stop() == 0
    finally:
        node.kill()
    assert "Traceback" not in node.log()
