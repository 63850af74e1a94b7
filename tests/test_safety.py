"""Data safety through the real command: signals, clashing runs, output = input, whole-folder replacement and
a full disk. Real processes, real signals (SIGINT, SIGTERM, SIGHUP, SIGKILL, a closed terminal), real files and
a real small tmpfs.

Every test ends by checking that no hidden leftover (a partial, a claim, a folder moved aside) remains.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from stream_mask.models import REGISTRY

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "models"
SHORT_VIDEO = SHARED / "media" / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 320x192, 9 frames
JUGGLE = SHARED / "media" / "people" / "05_default_juggle.mp4"  # 1280x720, 247 frames: MBs of output

pytestmark = pytest.mark.skipif(
    not (MODELS / REGISTRY["selfie"].filename).is_file() or not SHORT_VIDEO.is_file(),
    reason=f"real models and media not found in {SHARED} (../shared from the repo)",
)

INTERRUPTED = re.compile(r"^interrupted: (\d+) frames in .* -> (.+) \(partial, finalised and playable\)$")
NOTHING_WRITTEN = "stream-mask: interrupted: nothing written"
STOPPING_NOTE = "stream-mask: stopping, please wait (further interrupts are ignored)"
CLIP_FRAMES = 600
EXIT_TIMEOUT = 60  # generous: a stopped run finalises in well under a second, but the machine is shared


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared models, a private cache (outside tmp_path, whose listing tests check), no way to reach Google."""
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("STREAM_MASK_MODEL_MIRROR", "http://127.0.0.1:9")


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "stream_mask.cli", "run", *map(str, args), "--model", "selfie", "-q"]


def run_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=300)


def start(*args: object) -> subprocess.Popen:
    """A run in the background, SIGINT at its default as in a terminal (pytest may run as a background job)."""
    return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"no exit within {EXIT_TIMEOUT} s after the signal: {stderr[-2000:]}")
    return process.returncode, stdout, stderr


def wait_for(process: subprocess.Popen, found, what: str, timeout: float = 120) -> None:
    """Poll until `found()`: the run must still be going (else it finished before the test could act)."""
    deadline = time.monotonic() + timeout
    while not found():
        assert process.poll() is None, f"ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def writing(folder: Path, name: str):
    """True once the run writes `name`: its hidden partial exists (and, for a PNG folder, holds a frame)."""
    def found() -> bool:
        for partial in folder.glob(f".{name}.*.partial"):
            return not partial.is_dir() or any(partial.iterdir())
        return False
    return found


def leftovers(folder: Path) -> list[str]:
    """Hidden names anywhere under `folder`: partials, claims, folders moved aside."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_clip(path: Path, frames: int, fps: int = 20, size: tuple[int, int] = (256, 192)) -> Path:
    """A synthetic H.264 clip: a bright disc moving over a gradient (the model's answer does not matter here)."""
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            x = (index * 7) % width
            disc = ((cols - x) ** 2 + (rows - height // 2) ** 2) < (height // 4) ** 2
            rgb = np.stack([(cols * 255 // width), (rows * 255 // height), np.full_like(cols, 90)], axis=2)
            rgb[disc] = 230
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s at 20 fps: with --realtime, long enough to be interrupted at any point, even on a busy machine."""
    return make_clip(tmp_path_factory.mktemp("clips") / "long.mp4", CLIP_FRAMES)


# --- signals -------------------------------------------------------------------------------------


def _double_interrupt(clip: Path, folder: Path, delay: float) -> str:
    """One trial of item 3: two SIGINTs 20 ms apart, `delay` s after the run wrote its first frame."""
    folder.mkdir()
    process = start(clip, "--realtime", "--effect", "blur", "-o", folder / "b.mp4", "-o", folder / "m.mkv",
                    "-o", folder / "m")
    try:
        wait_for(process, writing(folder, "m"), "a first frame")
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        code, stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in stderr, stderr
    assert code == 130, (code, stdout, stderr)
    assert leftovers(folder) == [], stderr
    names = sorted(p.name for p in folder.iterdir())
    if not names:  # allowed: stopped before a frame was written (not expected here, a frame was)
        assert stderr.splitlines()[-1] == NOTHING_WRITTEN, stderr
        return "nothing"
    assert names == ["b.mp4", "b.mp4.json", "m", "m.mkv", "m.mkv.json"], (names, stderr)
    written = int(INTERRUPTED.match(stdout.splitlines()[-1]).group(1))
    assert written > 0
    assert decoded_frames(folder / "b.mp4") == decoded_frames(folder / "m.mkv") == written
    assert len(list((folder / "m").glob("*.png"))) == written
    assert json.loads((folder / "m.mkv.json").read_text())["interrupted"] is True
    assert set(stderr.splitlines()) <= {STOPPING_NOTE}, stderr
    return "finalised"


def test_twenty_double_interrupts_end_with_a_playable_output_or_nothing(clip, tmp_path):
    """Item 3: a second Ctrl-C while the first is being handled never hangs, crashes or leaves a partial.
    Two trials run at a time; the delays spread the interrupts over the first second of writing."""
    delays = [0.0, 0.1, 0.25, 0.5, 1.0] * 4
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda trial: _double_interrupt(clip, tmp_path / f"trial{trial}", delays[trial]),
                                 range(len(delays))))
    assert "finalised" in outcomes, outcomes  # the shutdown with frames in flight was exercised


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_finalise_a_video_and_a_png_folder(clip, tmp_path, name, code):
    """Item 4: what kill, systemd, Docker and a closed terminal send ends the run like Ctrl-C."""
    process = start(clip, "--realtime", "-o", tmp_path / "v.mkv", "-o", tmp_path / "frames")
    try:
        wait_for(process, writing(tmp_path, "frames"), "partial output")
        time.sleep(0.5)
        process.send_signal(getattr(signal, name))
        returncode, stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in stderr and stderr == "", stderr
    assert returncode == code
    summary = INTERRUPTED.match(stdout.splitlines()[-1])
    assert summary, stdout
    written = int(summary.group(1))
    assert 0 < written < CLIP_FRAMES
    assert decoded_frames(tmp_path / "v.mkv") == written
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        *(f"{index:05d}.png" for index in range(written)), "stream_mask.json"]
    assert json.loads((tmp_path / "frames" / "stream_mask.json").read_text())["interrupted"] is True
    assert leftovers(tmp_path) == []


def test_a_closed_terminal_finalises_the_outputs(clip, tmp_path):
    """Item 4, the real thing: the run's terminal goes away (SIGHUP to its process group, then no stderr)."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session of its own, with the pseudo-terminal as its controlling terminal
        try:
            os.execv(sys.executable, command(clip, "--realtime", "-o", tmp_path / "v.mkv", "-o", tmp_path / "frames"))
        finally:
            os._exit(127)
    try:
        deadline = time.monotonic() + 120
        while not writing(tmp_path, "frames")():
            assert time.monotonic() < deadline, "no partial output"
            if select.select([terminal], [], [], 0.02)[0]:
                os.read(terminal, 4096)  # keep the terminal drained
        time.sleep(0.5)
    finally:
        os.close(terminal)  # the terminal closes
    deadline = time.monotonic() + EXIT_TIMEOUT
    while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the run did not end after its terminal closed")
        time.sleep(0.05)
    sidecar = json.loads((tmp_path / "v.mkv.json").read_text())
    assert sidecar["interrupted"] is True
    assert decoded_frames(tmp_path / "v.mkv") == sidecar["frames"] > 0
    assert len(list((tmp_path / "frames").glob("*.png"))) == sidecar["frames"]
    assert leftovers(tmp_path) == []


def test_after_sigkill_the_next_run_to_the_same_names_clears_the_partials(clip, tmp_path):
    """Item 4: SIGKILL cannot be handled; its partials and claims are cleared by the next run to those names."""
    process = start(clip, "--realtime", "-o", tmp_path / "v.mkv", "-o", tmp_path / "frames")
    try:
        wait_for(process, writing(tmp_path, "frames"), "partial output")
    finally:
        process.kill()
        process.communicate()
    left = leftovers(tmp_path)
    assert any(name.startswith(".frames.") for name in left) and any(name.startswith(".v.mkv.") for name in left), left
    result = run_cli(SHORT_VIDEO, "-o", tmp_path / "v.mkv", "-o", tmp_path / "frames")
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == []
    assert decoded_frames(tmp_path / "v.mkv") == 9


def test_interrupt_before_the_first_frame_writes_nothing(tmp_path):
    """An interrupt during setup (here: a model download that stalls) is one line, exit 128 + signal, no file."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    results = []
    for name, code in (("SIGINT", 130), ("SIGTERM", 143)):
        out = tmp_path / name
        out.mkdir()
        env = {**os.environ, "STREAM_MASK_MODEL_MIRROR": f"http://127.0.0.1:{port}", "no_proxy": "127.0.0.1"}
        process = subprocess.Popen([sys.executable, "-m", "stream_mask.cli", "run", str(SHORT_VIDEO), "-o",
                                    str(out / "m.mkv"), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            server.settimeout(120)
            connection, _ = server.accept()  # the download has started, and will wait forever
            process.send_signal(getattr(signal, name))
            returncode, stdout, stderr = finish(process)
            connection.close()
        finally:
            if process.poll() is None:
                process.kill()
        results.append((name, returncode, stderr.splitlines(), stdout, sorted(os.listdir(out))))
    server.close()
    assert results == [("SIGINT", 130, [NOTHING_WRITTEN], "", []), ("SIGTERM", 143, [NOTHING_WRITTEN], "", [])]


# --- never lose what the user had -----------------------------------------------------------------


@pytest.mark.parametrize("output", ["v.mkv", "frames"])
def test_a_second_run_to_the_same_name_fails_at_once_and_the_first_keeps_its_output(clip, tmp_path, output):
    """Item 5: the name is claimed for the first run; the second fails with one line, --overwrite or not."""
    target = tmp_path / output
    first = start(clip, "--realtime", "-o", target)
    try:
        wait_for(first, writing(tmp_path, output), "partial output")
        for flags in [()] if output == "v.mkv" else [("--overwrite",)]:
            second = run_cli(SHORT_VIDEO, "-o", target, *flags)
            assert second.returncode == 1
            assert second.stderr.splitlines() == [
                f"stream-mask: error: output {target} is being written by another run (pid {first.pid}): "
                f"wait for it to finish or choose another name"], second.stderr
            assert first.poll() is None  # untouched
        first.send_signal(signal.SIGINT)
        returncode, stdout, stderr = finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert returncode == 130, stderr
    written = int(INTERRUPTED.match(stdout.splitlines()[-1]).group(1))
    if output == "v.mkv":
        assert decoded_frames(target) == written
    else:
        assert len(list(target.glob("*.png"))) == written
    assert leftovers(tmp_path) == []


def test_a_file_that_appears_meanwhile_is_kept(clip, tmp_path):
    """Item 5: at publish, a name someone else took meanwhile is not replaced without --overwrite."""
    target = tmp_path / "v.mkv"
    process = start(clip, "--realtime", "-o", target)
    try:
        wait_for(process, writing(tmp_path, "v.mkv"), "partial output")
        target.write_bytes(b"someone else's file")
        process.send_signal(signal.SIGINT)
        returncode, stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert (returncode, stdout) == (1, "")
    assert stderr.splitlines() == [f"stream-mask: error: output {target} appeared while this run wrote it: kept it "
                                   f"(pass --overwrite to replace it)"]
    assert target.read_bytes() == b"someone else's file"
    assert sorted(os.listdir(tmp_path)) == ["v.mkv"]


def write_frames(folder: Path, count: int) -> Path:
    """`count` small PNG pictures named like a run's frames."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        cv2.imwrite(str(folder / f"{index:05d}.png"), np.full((48, 64, 3), 20 * index % 256, np.uint8))
    return folder


@pytest.fixture
def footage(tmp_path: Path) -> Path:
    """A folder holding a video, a hard link and a symlink to it, and a folder of PNG frames."""
    folder = tmp_path / "footage"
    write_frames(folder / "frames", 3)
    shutil.copy(SHORT_VIDEO, folder / "c.mp4")
    os.link(folder / "c.mp4", folder / "hard.mp4")
    (folder / "soft.mp4").symlink_to("c.mp4")
    return folder


@pytest.mark.parametrize(("source", "output"), [
    ("c.mp4", "c.mp4"), ("c.mp4", "hard.mp4"), ("c.mp4", "soft.mp4"), ("c.mp4", "."),
    ("frames", "frames"), ("'frames/*.png'", "frames/%05d.png"), ("frames/00001.png", "frames/00001.png"),
])
def test_the_output_is_never_the_input(footage, source, output):
    """Item 6: whatever the flags, an output that is (or would replace the folder of) the input is refused."""
    before = {path: digest(path) for path in footage.rglob("*") if path.is_file()}
    listing = sorted(footage.rglob("*"))
    result = subprocess.run(command(source.strip("'"), "-o", output, "--overwrite"), capture_output=True, text=True,
                            cwd=footage, timeout=300)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        rf"stream-mask: error: output {re.escape(output)} (is|holds) the input \S+: whatever the flags, an output "
        r"never replaces its input; write it elsewhere", lines[0]), result.stderr
    assert sorted(footage.rglob("*")) == listing
    assert {path: digest(path) for path in before} == before


def test_overwrite_replaces_a_png_folder_as_a_whole(tmp_path):
    """Item 7: no frame of an earlier, longer run survives --overwrite; a folder holding anything else is refused."""
    target = write_frames(tmp_path / "masks", 12)  # an earlier run's
    (target / "stream_mask.json").write_text('{"frames": 12}')
    result = run_cli(make_clip(tmp_path / "short.mp4", 5), "-o", target, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == [f"{index:05d}.png" for index in range(5)] + ["stream_mask.json"]
    assert json.loads((target / "stream_mask.json").read_text())["frames"] == 5

    (target / "notes.txt").write_text("mine")
    before = digest(target)
    result = run_cli(SHORT_VIDEO, "-o", target, "--overwrite")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"stream-mask: error: output folder {target} holds more than PNGs (notes.txt): --overwrite replaces a folder "
        f"as a whole, so choose a new or empty one"]
    assert digest(target) == before
    assert leftovers(tmp_path) == []


def test_overwrite_of_a_pattern_removes_its_earlier_frames_only(tmp_path):
    """Item 7 for `-o folder/%03d.png`: the earlier run's files of that pattern go, the folder's other files stay."""
    folder = tmp_path / "shared"
    folder.mkdir()
    for index in range(12):  # an earlier run's
        (folder / f"m_{index:03d}.png").write_bytes(b"old")
    for name in ("m_notes.png", "other.txt", "x_001.png"):
        (folder / name).write_text("mine")
    result = run_cli(make_clip(tmp_path / "short.mp4", 5), "-o", folder / "m_%03d.png", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(folder)) == [*(f"m_{index:03d}.png" for index in range(5)), "m_notes.png", "other.txt",
                                          "stream_mask.json", "x_001.png"]
    assert all(cv2.imread(str(folder / f"m_{index:03d}.png")).shape == (192, 256, 3) for index in range(5))
    assert all((folder / name).read_text() == "mine" for name in ("m_notes.png", "other.txt", "x_001.png"))


def test_a_swap_cut_short_by_sigkill_never_loses_the_old_folder(tmp_path):
    """Item 7: killed between moving the old folder aside and renaming the new one in, the next run to that
    name puts the old folder back (here found as a run killed then would leave it)."""
    before = digest(write_frames(tmp_path / "masks", 3))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / "masks").rename(tmp_path / f".masks.{pid}.replaced")
    (tmp_path / f".masks.{pid}.partial").mkdir()  # its new folder, unfinished
    result = run_cli(SHORT_VIDEO, "-o", tmp_path / "masks")
    assert result.returncode == 1
    assert "is not empty: pass --overwrite" in result.stderr
    assert digest(tmp_path / "masks") == before
    assert leftovers(tmp_path) == []


# --- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 1 MB tmpfs (needs root and a mount namespace that allows it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill(disk: Path, leave: int) -> None:
    """Leave exactly `leave` bytes (whole pages) free on `disk`."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    (disk / "filler").write_bytes(b"\1" * (free - leave))
    stats = os.statvfs(disk)
    assert stats.f_bavail * stats.f_frsize == leave


def error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stream-mask: error: "), result.stderr
    assert result.returncode == 1 and result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(("output", "flags"), [("v.mp4", ("--effect", "blur")), ("frames", ("--kind", "composite"))])
def test_disk_full_while_writing_keeps_the_old_output(small_disk, tmp_path, output, flags):
    """Item 8: the disk fills mid-run: one line naming the output and the cause, nothing half-written (another
    output on a roomy disk included: the run failed), and the output it was to replace (--overwrite) is still
    there, whole."""
    target = small_disk / output
    if output == "frames":
        write_frames(target, 3)
    else:
        shutil.copy(SHORT_VIDEO, target)  # stands for an earlier output
    before = digest(target)
    fill(small_disk, 16384)
    result = run_cli(JUGGLE, "-o", tmp_path / "roomy.mkv", *flags, "-o", target, "--overwrite")
    line = error_line(result)
    assert line.startswith(f"stream-mask: error: cannot write {target}") and line.endswith(": No space left on device")
    assert digest(target) == before
    assert sorted(os.listdir(tmp_path)) == ["disk"]
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def mask_pages(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The 4 kB pages the mask video of SHORT_VIDEO takes (it is small: the muxer buffers all of it until close())."""
    roomy = tmp_path_factory.mktemp("roomy") / "v.mkv"
    result = subprocess.run(command(SHORT_VIDEO, "-o", roomy), capture_output=True, text=True, timeout=300,
                            env={**os.environ, "STREAM_MASK_MODEL_DIR": str(MODELS)})
    assert result.returncode == 0, result.stderr
    return -(-roomy.stat().st_size // 4096)


def test_disk_full_while_finalising(small_disk, mask_pages):
    """Item 8: the frames are buffered, so the disk fills in close() (flush and trailer): no partial is left."""
    pages = mask_pages
    fill(small_disk, pages * 4096)  # one page short: the claim file holds one while the run lasts
    line = error_line(run_cli(SHORT_VIDEO, "-o", small_disk / "v.mkv"))
    assert line == f"stream-mask: error: cannot write {small_disk / 'v.mkv'}: No space left on device"
    assert sorted(os.listdir(small_disk)) == ["filler"]


def test_disk_full_for_the_sidecar_only(small_disk, mask_pages):
    """Item 8: the video fits, its sidecar does not: one line that says so, the video complete, no sidecar file."""
    pages = mask_pages
    fill(small_disk, (pages + 1) * 4096)  # the video and the claim file
    target = small_disk / "v.mkv"
    line = error_line(run_cli(SHORT_VIDEO, "-o", target))
    assert line == (f"stream-mask: error: {target} is complete, but its sidecar {target}.json could not be written: "
                    f"No space left on device")
    assert sorted(os.listdir(small_disk)) == ["filler", "v.mkv"]
    assert decoded_frames(target) == 9


def test_a_mount_point_is_refilled_in_place(small_disk):
    """Item 7 where a folder cannot be swapped (a mount point): its earlier frames are replaced file by file,
    with the same result: only this run's frames and sidecar remain."""
    write_frames(small_disk, 12)  # an earlier run's
    result = run_cli(SHORT_VIDEO, "-o", small_disk, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(small_disk)) == [*(f"{index:05d}.png" for index in range(9)), "stream_mask.json"]
    assert cv2.imread(str(small_disk / "00000.png")).shape == (192, 320, 3)
