"""The buffered writer never loses lines to a signal, wherever the signal lands."""

from __future__ import annotations

import io
import signal
import sys

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
