"""The buffered writer never loses lines to a signal, wherever the signal lands."""

from __future__ import annotations

import io
import signal
import sys
import threading

import pytest
from singer_sdk.singerlib.encoding.simple import RecordMessage, StateMessage

from tap_audience.core.interrupt import INTERRUPTS, SyncInterrupted
from tap_audience.singer.writer import BufferedSingerWriter


class SignalOnFlush(io.StringIO):
    """A stdout whose flush() is where SIGTERM arrives (inside BufferedSingerWriter.flush)."""

    def __init__(self, path):
        super().__init__()
        self.file = open(path, "wb")  # noqa: SIM115 - closed by the test

    def fileno(self):
        return self.file.fileno()

    def flush(self):
        signal.raise_signal(signal.SIGTERM)


@pytest.fixture
def our_handlers():
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    INTERRUPTS.install()
    INTERRUPTS.pending = None
    yield
    signal.signal(signal.SIGTERM, previous[0])
    signal.signal(signal.SIGINT, previous[1])
    INTERRUPTS.pending = None


def test_a_signal_during_a_flush_is_acted_on_after_the_lines_are_written(tmp_path, our_handlers):
    path = tmp_path / "stdout"
    fake = SignalOnFlush(path)
    writer = BufferedSingerWriter()
    original, sys.stdout = sys.stdout, fake
    try:
        writer.write_message(RecordMessage(stream="s", record={"id": 1}))
        with pytest.raises(SyncInterrupted):
            writer.write_message(StateMessage(value={"bookmarks": {"s": {"id": 1}}}))
    finally:
        sys.stdout = original
        fake.file.close()
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ['{"type":"RECORD"', '{"type":"STATE"']


def test_a_signal_while_held_is_acted_on_when_the_outermost_block_ends(our_handlers):
    """`INTERRUPTS.held()` keeps a write and its bookkeeping together (the run report's count
    of a record goes with its line): the signal waits for both, then stops the run."""
    done = []
    with pytest.raises(SyncInterrupted), INTERRUPTS.held():
        with INTERRUPTS.held():
            signal.raise_signal(signal.SIGTERM)
            done.append("inner")
        done.append("outer")  # only the outermost block acts
    assert done == ["inner", "outer"]
    INTERRUPTS.pending = None
    # A block that raises keeps its own error; the signal stays pending for the next check.
    with pytest.raises(BrokenPipeError), INTERRUPTS.held():
        signal.raise_signal(signal.SIGTERM)
        raise BrokenPipeError
    with pytest.raises(SyncInterrupted):
        INTERRUPTS.checkpoint()
    INTERRUPTS.pending = None
    # Held in a worker thread holds nothing back: signals are handled in the main thread.
    seen = []

    def worker():
        with INTERRUPTS.held():
            seen.append(INTERRUPTS.writing)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [False]
