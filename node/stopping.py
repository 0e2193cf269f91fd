"""Stopping a running node from another thread, and waiting until its final report is out.

Signals reach the node's own thread, but Windows tells a windowless program that the session ends
through a window message (node.windows.endsession), and a Windows service through its control
handler (node.windows.service); both run in threads of their own. Those threads never touch the
node's ZeroMQ sockets: they only raise the agent's stop flag, which its loop checks at least every
``POLL_CAP_SECONDS``, and wait for the node to finish.
"""
from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("procmesh.node")

# Windows waits about 5 s for a program that handles WM_ENDSESSION before it offers to end it,
# and kills what is left after that; the node's bye takes at most about 2 s (BYE_LINGER_MS twice).
END_SESSION_BUDGET_SECONDS = 4.0


class Stoppable(Protocol):
    def request_stop(self, reason: str) -> None: ...

    def run(self) -> None: ...


class StopRelay:
    """Hands a stop request to the node that runs now, or to the one about to start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agent: Stoppable | None = None
        self._reason = ""
        self._finished = threading.Event()

    def attach(self, agent: Stoppable) -> None:
        """The node's agent is about to run; a stop asked for meanwhile applies to it at once."""
        with self._lock:
            self._agent = agent
            reason = self._reason
        if reason:
            agent.request_stop(reason)

    def run(self, agent: Stoppable) -> None:
        """Run the node's agent in this thread until it stops, for whatever reason."""
        self.attach(agent)
        try:
            agent.run()
        finally:
            self.finish()

    def finish(self) -> None:
        """The node has stopped (or never started): its final report is sent, or could not be."""
        self._finished.set()

    def stop_and_wait(self, reason: str, timeout: float) -> bool:
        """Ask the node to stop; True when it finished within ``timeout`` seconds."""
        with self._lock:
            self._reason = self._reason or reason
            agent = self._agent
        if agent is not None:
            agent.request_stop(reason)
        return self._finished.wait(timeout)

    @property
    def stop_requested(self) -> bool:
        return bool(self._reason)


class SessionEndHandler:
    """What the node answers to Windows' end-of-session messages (the window procedure in
    node.windows.endsession calls these): never object to the session ending; once it really
    ends, stop and send the final report before returning, because Windows may end the process as
    soon as the answer to WM_ENDSESSION is in."""

    def __init__(self, relay: StopRelay, budget: float = END_SESSION_BUDGET_SECONDS) -> None:
        self._relay = relay
        self._budget = budget

    def query_end_session(self) -> bool:
        # Another program may still veto the logoff, so the node does not stop yet.
        return True

    def end_session(self, ending: bool) -> None:
        if not ending:
            log.info("the Windows session goes on (logoff or shutdown cancelled)")
            return
        if not self._relay.stop_and_wait("the Windows session ends", self._budget):
            log.warning("the final report was not out within %.0f s of the session's end; the next "
                        "run sends what is left", self._budget)
