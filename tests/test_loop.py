"""The frame loop in-process (loop.run_loop): threads, queues, drops, stops and errors.

An in-memory Source and Sink implement the real interfaces (frames.Source, sinks.Sink) around real frames of a
real clip; the model is the real selfie segmenter behind the real VideoMasker, the outputs are real Outputs. Every
wait is on a condition the loop's own progress makes true (counts of frames yielded, segmented, written), with a
generous timeout only so that a broken loop fails instead of hanging: nothing asserts on time.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import MEDIA, SELFIE, needs_shared
from stream_mask.config import OutputSpec
from stream_mask.errors import StreamMaskError
from stream_mask.frames import Frame, Source, SourceInfo
from stream_mask.loop import QUEUE_SIZE, LoopResult, run_loop
from stream_mask.outputs import FrameMattes, LiveSettings, Output, make_output
from stream_mask.parts import Part, available_parts, resolve_parts
from stream_mask.masker import VideoMasker
from stream_mask.preview import LiveStatus
from stream_mask.sinks import Sink
from stream_mask.stops import StopRequest

pytestmark = needs_shared

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames, 320x192, two people
WAIT = 60.0  # seconds: only a broken loop takes this long (a loaded machine takes well under one)
RUN_AHEAD = 0.5  # seconds a held sink gives the source to run too far ahead: a pass never depends on it


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    with av.open(str(CLIP)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture
def maker() -> Iterator[VideoMasker]:
    """The run's model side, as pipeline.py builds it for the selfie model without --smooth, --refine or --every."""
    with VideoMasker(str(SELFIE)) as maker:
        yield maker


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Whatever a test does, the loop's reader and writer threads have ended when run_loop returns or raises."""
    yield
    left = [thread.name for thread in threading.enumerate() if thread.name.startswith("stream-mask")]
    assert not left, f"threads still running after the loop: {left}"


class MemorySource(Source):
    """Frames (and audio packets) from a generator function, run on the loop's reader thread."""

    def __init__(self, items: Callable[[], Iterator[Frame | av.Packet]], live: bool = False) -> None:
        self.info = SourceInfo("memory", 320, 192, Fraction(12), Fraction(1, 12), None, live=live)
        self._items = items

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        yield from self._items()


class MemorySink(Sink):
    """Keeps what it is given; `before_write(frame)` runs on the writer thread first (to hold it up or fail)."""

    def __init__(self, path: str, picture: str, before_write: Callable[[Frame], None] | None = None) -> None:
        self.path, self.picture, self._before_write = path, picture, before_write
        self.written: list[tuple[int, np.ndarray]] = []  # (frame index, picture)
        self.audio: list[bytes] = []

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        self._check_picture(frame, picture)
        if self._before_write is not None:
            self._before_write(frame)
        self.written.append((frame.index, picture.copy()))
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        self.audio.append(bytes(packet))

    def close(self, sidecar: dict | None = None) -> None:
        pass

    def abort(self) -> None:
        pass

    @property
    def indices(self) -> list[int]:
        return [index for index, _ in self.written]


class MemoryPreview:
    """A window stand-in on the model's thread (the loop's Preview protocol): `on_show(frame)` runs for each."""

    def __init__(self, live: LiveSettings, on_show: Callable[[Frame], bool | None]) -> None:
        self.live, self._on_show = live, on_show
        self.latencies: list[float] = []

    @property
    def parts(self) -> list[Part]:
        return self.live.parts

    def show(self, frame: Frame, mattes: FrameMattes, status: LiveStatus) -> bool:
        return self._on_show(frame) is not False

    def close(self) -> None:
        pass


def make_frame(pictures: list[np.ndarray], index: int, picture: np.ndarray | None = None) -> Frame:
    return Frame(pictures[index % len(pictures)] if picture is None else picture, index, index, Fraction(1, 12))


def memory_output(path: str, maker: VideoMasker, live: LiveSettings, kind: str | None = None,
                  parts: tuple[str, ...] | None = None,
                  before_write: Callable[[Frame], None] | None = None) -> tuple[Output, MemorySink]:
    labels = maker.classes
    output = make_output(OutputSpec(path, kind=kind, parts=parts), resolve_parts(parts, labels, "selfie"), live,
                         labels=labels)
    output.sink = sink = MemorySink(path, output.picture, before_write)
    return output, sink


def wait(condition: threading.Condition, predicate: Callable[[], bool], what: str) -> None:
    with condition:
        if not condition.wait_for(predicate, timeout=WAIT):
            raise AssertionError(f"the loop never got to {what}")


def test_every_frame_and_audio_packet_reaches_every_output_in_order(maker, pictures) -> None:
    """A file: nothing dropped, frames and audio in order, each output its own picture kind."""
    def items() -> Iterator[Frame | av.Packet]:
        for index in range(12):
            yield av.Packet(bytes([index]))
            yield make_frame(pictures, index)

    live = LiveSettings(0.4)
    mask, mask_sink = memory_output("mask.mkv", maker, live)
    composite, composite_sink = memory_output("composite.mp4", maker, live, kind="composite")
    result = run_loop(MemorySource(items), maker, [mask, composite], None, StopRequest())

    assert result == LoopResult(False, 12, 0, result.latencies) and len(result.latencies) == 24
    for sink in (mask_sink, composite_sink):
        assert sink.indices == list(range(12)) and sink.audio == [bytes([index]) for index in range(12)]
    assert mask_sink.written[0][1].shape == (192, 320) and composite_sink.written[0][1].shape == (192, 320, 3)
    assert 0.02 < (mask_sink.written[0][1] == 255).mean() < 0.9, "the people are masked, not the whole frame"
    assert maker.calls == 12


# --- errors of each thread reach the caller ---------------------------------------------------------


def test_an_error_in_the_reader_reaches_the_caller_after_the_frames_before_it(maker, pictures) -> None:
    broken = ValueError("the decoder broke")

    def items() -> Iterator[Frame]:
        yield from (make_frame(pictures, index) for index in range(3))
        raise broken

    output, sink = memory_output("mask.mkv", maker, LiveSettings(0.4))
    with pytest.raises(ValueError) as raised:
        run_loop(MemorySource(items), maker, [output], None, StopRequest())
    assert raised.value is broken
    assert sink.indices == [0, 1, 2], "the frames read before the error are written before it is raised"


@pytest.mark.parametrize("live", [False, True], ids=["file", "live"])
def test_a_full_disk_is_a_one_line_error_and_stops_every_writer(maker, pictures, live: bool) -> None:
    """sink.write raising OSError -> StreamMaskError naming the output; the other output's writer ends too."""
    def full(frame: Frame) -> None:  # the first frame that reaches it (a live source may drop any)
        raise OSError(errno.ENOSPC, "No space left on device")

    frames = 200
    settings = LiveSettings(0.4)
    failing, _ = memory_output("full.mkv", maker, settings, before_write=full)
    other, other_sink = memory_output("other.mkv", maker, settings)
    source = MemorySource(lambda: (make_frame(pictures, index) for index in range(frames)), live=live)
    with pytest.raises(StreamMaskError) as raised:
        run_loop(source, maker, [failing, other], None, StopRequest())
    assert str(raised.value) == "cannot write full.mkv: No space left on device"
    assert len(other_sink.written) < frames, "the loop went on after a writer failed"


def test_an_optional_output_lost_mid_run_ends_alone(maker, pictures) -> None:
    """A stream whose peer leaves (`Sink.optional`): its error ends that output only, is reported in `lost`, and the
    other output receives every frame; with every output lost, the loop ends early."""
    def peer_left(frame: Frame) -> None:
        if frame.index == 2:
            raise StreamMaskError("cannot send to udp://peer: Connection refused")

    settings = LiveSettings(0.4)
    stream, stream_sink = memory_output("stream", maker, settings, before_write=peer_left)
    stream_sink.optional = True
    recording, recording_sink = memory_output("mask.mkv", maker, settings)
    source = MemorySource(lambda: (make_frame(pictures, index) for index in range(12)))
    result = run_loop(source, maker, [stream, recording], None, StopRequest())
    assert result.lost == {0: "cannot send to udp://peer: Connection refused"}
    assert stream_sink.indices == [0, 1] and recording_sink.indices == list(range(12))

    alone, alone_sink = memory_output("stream", maker, settings, before_write=peer_left)
    alone_sink.optional = True
    endless = MemorySource(lambda: (make_frame(pictures, index) for index in range(10**6)))
    result = run_loop(endless, maker, [alone], None, StopRequest())
    assert result.lost == {0: "cannot send to udp://peer: Connection refused"} and result.frames < 10**6


def test_any_other_writer_exception_reaches_the_caller_as_it_is(maker, pictures) -> None:
    bug = RuntimeError("an encoder bug")

    def broken(frame: Frame) -> None:
        if frame.index == 1:
            raise bug

    output, _ = memory_output("mask.mkv", maker, LiveSettings(0.4), before_write=broken)
    source = MemorySource(lambda: (make_frame(pictures, index) for index in range(50)))
    with pytest.raises(RuntimeError) as raised:
        run_loop(source, maker, [output], None, StopRequest())
    assert raised.value is bug


def test_an_error_on_the_model_thread_reaches_the_caller(maker, pictures) -> None:
    """MediaPipe itself refuses a grey picture where RGB is due; what was queued before it is written."""
    def items() -> Iterator[Frame]:
        yield from (make_frame(pictures, index) for index in range(3))
        yield make_frame(pictures, 3, np.zeros((192, 320), np.uint8))
        yield from (make_frame(pictures, index) for index in range(4, 50))

    output, sink = memory_output("mask.mkv", maker, LiveSettings(0.4))
    with pytest.raises(ValueError, match="Pixel data size"):
        run_loop(MemorySource(items), maker, [output], None, StopRequest())
    assert sink.indices == [0, 1, 2]


# --- queues stay bounded; live sources drop stale frames -----------------------------------------------


def test_a_slow_sink_holds_a_file_source_back(maker, pictures) -> None:
    """Nothing is lost and memory stays flat: however slow the sink, the source is never more than one queue ahead
    of the model and the model one queue ahead of the sink (counted in frames at every step)."""
    total = 5 * QUEUE_SIZE
    # All the loop holds: the reader's queue, the frame the reader offers, the frame on the model's thread (segmented,
    # waiting for room in the writer's queue), the writer's queue, the frame being written.
    in_flight = QUEUE_SIZE + 1 + 1 + QUEUE_SIZE + 1
    counts = threading.Condition()
    state = {"yielded": 0, "written": 0, "source_ahead": 0, "model_ahead": 0, "ahead": 0}

    def items() -> Iterator[Frame]:
        for index in range(total):
            with counts:
                state["yielded"] += 1
                state["source_ahead"] = max(state["source_ahead"], state["yielded"] - maker.calls)
                counts.notify_all()
            yield make_frame(pictures, index)

    def slow(frame: Frame) -> None:
        # Each write waits until every queue is full (or the source has no more frames): the sink is always the
        # slowest stage. Unbounded queues would let the source run further ahead meanwhile.
        wait(counts, lambda: state["yielded"] == total or state["yielded"] - state["written"] >= in_flight,
             f"frame {frame.index} with every queue full")
        with counts:
            if frame.index == 0:  # time for a loop with an unbounded queue to run further: a bounded one never does
                counts.wait_for(lambda: state["yielded"] - state["written"] > in_flight, timeout=RUN_AHEAD)
            state["model_ahead"] = max(state["model_ahead"], maker.calls - state["written"])
            state["ahead"] = max(state["ahead"], state["yielded"] - state["written"])
            state["written"] += 1
            counts.notify_all()

    output, sink = memory_output("mask.mkv", maker, LiveSettings(0.4), before_write=slow)
    result = run_loop(MemorySource(items), maker, [output], None, StopRequest())
    assert sink.indices == list(range(total)) and result.dropped == 0
    assert state["ahead"] == in_flight, state
    assert state["source_ahead"] <= QUEUE_SIZE + 2 and state["model_ahead"] <= QUEUE_SIZE + 2, state


def test_a_live_source_with_a_slow_model_thread_drops_stale_frames_never_audio(maker, pictures) -> None:
    """Latest frame wins: while the model's thread is busy with frame N, the source delivers three more frames and
    their audio; the model's thread then gets only the newest of them, the two others are counted as dropped, and
    every audio packet is written in order."""
    rounds, burst = 4, 3
    progress = threading.Condition()
    shown: list[int] = []
    released = [0]

    def hold(frame: Frame) -> None:  # the model's thread is held here until the source has sent its burst
        with progress:
            shown.append(frame.index)
            progress.notify_all()
        count = len(shown)
        wait(progress, lambda: released[0] >= count or frame.index == rounds * burst, "the end of a burst")

    def items() -> Iterator[Frame | av.Packet]:
        yield make_frame(pictures, 0)
        for round_ in range(rounds):
            first = round_ * burst
            wait(progress, lambda: first in shown, f"frame {first} on the model's thread")
            for index in range(first + 1, first + burst + 1):
                yield av.Packet(bytes([index]))
                yield make_frame(pictures, index)
            with progress:
                released[0] += 1
                progress.notify_all()

    settings = LiveSettings(0.4)
    output, sink = memory_output("mask.mkv", maker, settings)
    preview = MemoryPreview(settings, hold)
    result = run_loop(MemorySource(items, live=True), maker, [output], preview, StopRequest())

    newest = [round_ * burst for round_ in range(rounds + 1)]  # 0, 3, 6, 9, 12
    assert shown == newest and sink.indices == newest
    assert result.dropped == rounds * (burst - 1) and result.frames == len(newest)
    assert sink.audio == [bytes([index]) for index in range(1, rounds * burst + 1)]
    assert maker.calls == len(newest)


# --- stop requests and the preview's hotkeys ----------------------------------------------------------


def test_a_stop_signal_ends_the_loop_and_what_was_queued_is_written(maker, pictures) -> None:
    """A real SIGINT, sent while the writer is a full queue behind: the endless source is left, the loop reports
    an interruption, and every frame the model handed on is written."""
    def endless() -> Iterator[Frame]:  # but for a loop that does not stop: then it fails, not hangs
        yield from (make_frame(pictures, index) for index in range(1000))

    def stop_when_behind(frame: Frame) -> None:
        if frame.index == 3:  # held until the frames after it fill the writer's queue (the model tells no one)
            deadline = time.monotonic() + WAIT
            while maker.calls < 4 + QUEUE_SIZE:
                assert time.monotonic() < deadline, "the model never got a queue ahead of the writer"
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGINT)

    output, sink = memory_output("mask.mkv", maker, LiveSettings(0.4), before_write=stop_when_behind)
    with StopRequest().handling([signal.SIGINT]) as stop:
        stop.defer()
        result = run_loop(MemorySource(endless), maker, [output], None, stop)
    assert stop.signal == signal.SIGINT and result.interrupted
    assert result.frames >= 4 + QUEUE_SIZE and sink.indices == list(range(result.frames))


def test_the_preview_quitting_ends_the_loop_without_an_interruption(maker, pictures) -> None:
    settings = LiveSettings(0.4)
    output, sink = memory_output("mask.mkv", maker, settings)
    preview = MemoryPreview(settings, lambda frame: frame.index < 4)
    result = run_loop(MemorySource(lambda: (make_frame(pictures, index) for index in range(50))), maker, [output],
                      preview, StopRequest())
    assert not result.interrupted and result.frames == 5 and sink.indices == list(range(5))


def test_hotkeys_change_every_output_through_the_live_settings(maker, pictures) -> None:
    """What the window's keys do, through the loop: a part key toggles that part in each selectable output's own
    choice (a label map keeps every class), and the confidence keys change the threshold of every output."""
    labels = maker.classes
    choices = list(available_parts(labels).values())
    person, background = available_parts(labels)["person"], available_parts(labels)["background"]
    settings = LiveSettings(0.4, [person])

    def keys(frame: Frame) -> None:
        if frame.index == 1:
            settings.toggle(background)  # key 2
        if frame.index == 3:
            for _ in range(15):  # ] x 15: 0.40 -> 1.00, the limit
                settings.step_confidence(0.05)

    people, people_sink = memory_output("people.mkv", maker, settings, parts=("person",))
    rest, rest_sink = memory_output("rest.mkv", maker, settings, parts=("background",))
    classes, classes_sink = memory_output("labels.mkv", maker, settings, kind="labels")
    preview = MemoryPreview(settings, keys)
    run_loop(MemorySource(lambda: (make_frame(pictures, index) for index in range(6))), maker,
             [people, rest, classes], preview, StopRequest())

    def white(sink: MemorySink) -> list[float]:
        return [round(float((picture > 0).mean()), 3) for _, picture in sink.written]

    person_share = white(people_sink)[0]
    assert 0.02 < person_share < 0.9 and white(rest_sink)[0] >= 1 - person_share - 0.002
    assert white(people_sink)[2:4] == [1.0, 1.0], "person + background: every pixel"
    assert white(rest_sink)[2:4] == [0.0, 0.0], "background toggled off: nothing"
    assert white(classes_sink)[:2] == white(people_sink)[:2]
    assert all(0.02 < share < 0.9 for share in white(classes_sink)[:4]), "a label map keeps its classes"
    assert white(people_sink)[4:] == white(rest_sink)[4:] == white(classes_sink)[4:] == [0.0, 0.0], "> 1.0: nothing"
    assert settings.confidence == 1.0 and settings.parts == [person, background] and choices[:2] == [person, background]
    assert people.parts == [person, background] and rest.parts == [] and classes.parts == classes.chosen
