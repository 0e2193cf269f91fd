"""Hot reload of the watch file: real files in a temporary folder, real filesystem events."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from common.watchlist import load_watchlist
from hub.watcher import WatchFileWatcher
from tests.waiting import wait_for

WATCH_LOGGER = "procmesh.hub.watch"
DEBOUNCE = 0.1
INITIAL_TEXT = "chrome\n"
INITIAL_LIST = [["chrome", ["chrome"]]]
EDITED_TEXT = "chrome\nOffice = winword, excel\n"
EDITED_LIST = [["chrome", ["chrome"]], ["Office", ["winword", "excel"]]]


class RecordingListSink:
    """The watcher's output port: keeps every list it is handed, in order."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []
        self.closed = threading.Event()

    def send(self, payload: Any) -> None:
        self.payloads.append(payload)

    def close(self) -> None:
        self.closed.set()


def save_by_rename(path: Path, text: str) -> None:
    """Save as editors do: write a temporary file in the same folder, then rename it over the original."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def watcher_messages(caplog: pytest.LogCaptureFixture, level: int | None = None) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == WATCH_LOGGER and level in (None, r.levelno)]


def stays_false(predicate: Callable[[], Any], seconds: float) -> bool:
    """True when predicate stays false for the whole period: how a test sees that nothing happens."""
    try:
        wait_for(predicate, timeout=seconds)
    except AssertionError:
        return True
    return False


@pytest.fixture
def watch_file(tmp_path: Path) -> Path:
    path = tmp_path / "monitorProcesses.txt"
    path.write_text(INITIAL_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def sink() -> RecordingListSink:
    return RecordingListSink()


@pytest.fixture
def start_watching(watch_file: Path, sink: RecordingListSink) -> Iterator[Callable[..., WatchFileWatcher]]:
    started: list[WatchFileWatcher] = []

    def start(debounce: float = DEBOUNCE) -> WatchFileWatcher:
        watcher = WatchFileWatcher(watch_file, load_watchlist(watch_file), sink, debounce=debounce)
        watcher.start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.stop()


def test_edit_that_changes_the_list_is_delivered(start_watching, watch_file, sink) -> None:
    start_watching()
    watch_file.write_text(EDITED_TEXT, encoding="utf-8")
    wait_for(lambda: sink.payloads, timeout=4, message="the edited list")
    assert sink.payloads == [EDITED_LIST]


def test_edit_that_keeps_the_parsed_list_is_not_delivered(start_watching, watch_file, sink, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger=WATCH_LOGGER)
    start_watching()
    watch_file.write_text("# browsers\n\n  chrome  \n", encoding="utf-8")
    wait_for(lambda: watcher_messages(caplog, logging.DEBUG), timeout=4,
             message="the watcher to read the edited file")
    assert sink.payloads == []


def test_save_by_renaming_over_the_file_is_delivered(start_watching, watch_file, sink) -> None:
    start_watching()
    save_by_rename(watch_file, EDITED_TEXT)
    wait_for(lambda: sink.payloads, timeout=4, message="the list saved by rename")
    assert sink.payloads == [EDITED_LIST]


def test_burst_of_writes_within_the_debounce_window_is_delivered_once(
        start_watching, watch_file, sink) -> None:
    start_watching(debounce=0.5)
    for extra in ("firefox", "slack", "zoom"):
        watch_file.write_text(f"chrome\n{extra}\n", encoding="utf-8")
    watch_file.write_text(EDITED_TEXT, encoding="utf-8")
    wait_for(lambda: sink.payloads, timeout=4, message="the list after the burst")
    assert sink.payloads == [EDITED_LIST]


def test_broken_file_is_rejected_with_its_line_and_a_later_good_file_is_delivered(
        start_watching, watch_file, sink, caplog) -> None:
    start_watching()
    watch_file.write_text("x = re:(\n", encoding="utf-8")
    errors = wait_for(lambda: watcher_messages(caplog, logging.ERROR), timeout=4,
                      message="the rejection of the broken file")
    assert "line 1:" in errors[0]
    assert sink.payloads == []

    watch_file.write_text(EDITED_TEXT, encoding="utf-8")
    wait_for(lambda: sink.payloads, timeout=4, message="the repaired list")
    assert sink.payloads == [EDITED_LIST]


def test_requested_reload_delivers_an_unchanged_list(start_watching, sink) -> None:
    watcher = start_watching()
    watcher.request_reload()
    wait_for(lambda: sink.payloads, timeout=4, message="the reloaded list")
    assert sink.payloads == [INITIAL_LIST]


def test_stop_ends_the_thread_and_closes_the_sink(start_watching, sink) -> None:
    watcher = start_watching()
    watcher.stop()
    assert not watcher.is_alive()
    assert sink.closed.is_set()


def test_deleted_file_keeps_the_last_list(start_watching, watch_file, sink, caplog) -> None:
    start_watching()
    watch_file.unlink()
    errors = wait_for(lambda: watcher_messages(caplog, logging.ERROR), timeout=4,
                      message="the error about the missing file")
    assert "cannot read watch list" in errors[0]
    assert sink.payloads == []

    watch_file.write_text(EDITED_TEXT, encoding="utf-8")
    wait_for(lambda: sink.payloads, timeout=4, message="the list of the recreated file")
    assert sink.payloads == [EDITED_LIST]


def test_other_files_in_the_folder_are_ignored(start_watching, watch_file, sink, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger=WATCH_LOGGER)
    start_watching()
    (watch_file.parent / "notes.txt").write_text("firefox\n", encoding="utf-8")
    # Names that contain the watched name must not be mistaken for it either.
    save_by_rename(watch_file.with_name(f"{watch_file.name}.bak"), "slack\n")
    save_by_rename(watch_file.with_name(f"old-{watch_file.name}"), "zoom\n")
    assert stays_false(lambda: sink.payloads or watcher_messages(caplog), seconds=5 * DEBOUNCE)

    watch_file.write_text(EDITED_TEXT, encoding="utf-8")
    wait_for(lambda: sink.payloads, timeout=4, message="the edited list")
    assert sink.payloads == [EDITED_LIST]


def test_rejected_file_is_logged_once_while_it_stays_unchanged(
        start_watching, watch_file, caplog) -> None:
    start_watching(debounce=0.05)
    watch_file.write_text("x = re:(\n", encoding="utf-8")
    wait_for(lambda: watcher_messages(caplog, logging.ERROR), timeout=4,
             message="the rejection of the broken file")
    assert stays_false(lambda: len(watcher_messages(caplog, logging.ERROR)) > 1, seconds=0.5)


def test_a_check_rereads_the_file_and_logs_a_refusal_once_until_its_reason_changes(
        start_watching, watch_file, sink, caplog) -> None:
    watcher = start_watching()
    watch_file.write_text("x = re:(\n", encoding="utf-8")
    wait_for(lambda: watcher_messages(caplog, logging.ERROR), timeout=4, message="the rejection")
    for _ in range(3):   # as the hub's tick asks, every 30 s
        watcher.request_check()
    assert stays_false(lambda: len(watcher_messages(caplog, logging.ERROR)) > 1, seconds=0.5)
    watch_file.write_text("y = \n", encoding="utf-8")
    wait_for(lambda: len(watcher_messages(caplog, logging.ERROR)) == 2, timeout=4, message="a new refusal")

