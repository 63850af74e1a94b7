"""`stream-mask batch`: real clips, real worker processes, real signals, real Ray."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from conftest import MEDIA, cli_env, needs_shared, run_cli, stream_copy

pytestmark = needs_shared

CISCO = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames
GIF = MEDIA / "people" / "head-pose-face-detection-female-and-male.gif"  # 56 frames
GESTURE = MEDIA / "people" / "gesture_recognizer_test_video.mp4"  # with sound: its first second is 25 frames
PARKOUR = MEDIA / "davis_parkour" / "parkour_24fps_from_frames.mp4"  # 100 frames
GOOD = ("cisco", "gif", "gesture")


def packets(path: Path) -> list[tuple[int | None, bytes]]:
    """Every video packet of an output (FFV1: lossless, so equal packets are equal pictures), with its time."""
    with av.open(str(path)) as container:
        return [(packet.pts, bytes(packet)) for packet in container.demux(container.streams.video[0])
                if packet.size]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of real clips, a corrupt file (bytes that are no video) and a zero-byte file."""
    folder = tmp_path_factory.mktemp("clips")
    shutil.copy(CISCO, folder / "cisco.mp4")
    shutil.copy(GIF, folder / "gif.gif")
    stream_copy(GESTURE, folder / "gesture.mp4", 1.0)
    (folder / "corrupt.mp4").write_bytes(os.urandom(4096))
    (folder / "empty.mkv").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def singles(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each good clip through a single `stream-mask run`."""
    folder = tmp_path_factory.mktemp("singles")
    made = {}
    for path in sorted(clips.iterdir()):
        if path.stem in GOOD:
            result = run_cli("run", str(path), "-o", str(folder / f"{path.stem}.mkv"), "--model", "selfie")
            assert result.returncode == 0, result.stderr
            made[path.stem] = folder / f"{path.stem}.mkv"
    return made


def check_batch_result(result: subprocess.CompletedProcess, clips: Path, out: Path, singles: dict[str, Path],
                       report: Path) -> None:
    """Every good clip's output bit-exact to its single run; the two bad files failed with their reasons."""
    assert result.returncode == 1, result.stderr
    assert "3 done, 0 skipped, 2 failed" in result.stdout
    for name in ("corrupt.mp4", "empty.mkv"):
        assert f"failed: {clips / name}: cannot read" in result.stdout
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{stem}.mkv" for stem in GOOD] + [f"{stem}.mkv.json" for stem in GOOD])  # nothing else, nothing hidden
    for stem in GOOD:
        assert packets(out / f"{stem}.mkv") == packets(singles[stem]), stem
    data = json.loads(report.read_text())
    assert data["counts"] == {"done": 3, "skipped": 0, "failed": 2, "stopped": 0}
    failed = {Path(entry["input"]).name: entry["reason"] for entry in data["files"] if entry["status"] == "failed"}
    assert set(failed) == {"corrupt.mp4", "empty.mkv"}
    assert all("not a video or image file" in reason for reason in failed.values())


def test_batch_of_a_folder_equals_single_runs_and_reports_the_failures(clips: Path, singles: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "masks"  # made by the batch
    report = tmp_path / "report.json"
    result = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--report", str(report))
    check_batch_result(result, clips, out, singles, report)

    # Started again: every good file is done already and skipped (not re-encoded), the bad ones fail again.
    mtimes = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    again = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "-v")
    assert again.returncode == 1
    assert "0 done, 3 skipped, 2 failed" in again.stdout
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == mtimes

    # Other settings are not what the outputs were made with: they are not done, and not replaced without
    # --overwrite; with it they are redone.
    other = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--confidence", "0.6")
    assert other.returncode == 1 and "0 done, 0 skipped, 5 failed" in other.stdout
    assert "exists: pass --overwrite" in other.stdout
    redone = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--confidence", "0.6",
                     "--overwrite")
    assert "3 done, 0 skipped, 2 failed" in redone.stdout


def test_two_workers_give_the_same_outputs(clips: Path, singles: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "masks"
    report = tmp_path / "report.json"
    result = run_cli("batch", str(clips / "*"), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--workers", "2",
                     "--report", str(report))
    check_batch_result(result, clips, out, singles, report)


def test_batch_takes_a_config_file_as_run_does(clips: Path, tmp_path: Path) -> None:
    config = tmp_path / "masks.toml"
    config.write_text('model = "selfie"\nconfidence = 0.5\n\n[[output]]\npath = "{stem}_person.mkv"\nparts = "person"\n')
    (tmp_path / "batch").mkdir()
    (tmp_path / "single").mkdir()
    inputs = [str(clips / "cisco.mp4"), str(clips / "gif.gif")]
    result = run_cli("batch", *inputs, "--config", str(config), cwd=tmp_path / "batch")
    assert result.returncode == 0 and "2 done, 0 skipped, 0 failed" in result.stdout, result.stdout + result.stderr
    for clip in inputs:
        assert run_cli("run", clip, "--config", str(config), cwd=tmp_path / "single").returncode == 0
        name = f"{Path(clip).stem}_person.mkv"
        assert packets(tmp_path / "batch" / name) == packets(tmp_path / "single" / name)
    again = run_cli("batch", *inputs, "--config", str(config), cwd=tmp_path / "batch")  # the same settings: done
    assert "0 done, 2 skipped, 0 failed" in again.stdout


def test_face_landmark_parts_start_afresh_in_each_file(clips: Path, tmp_path: Path) -> None:
    """One worker runs both files on the same open models; the face landmarker follows faces from frame to frame,
    so a file after another must not start from the other's faces: each output equals its single run."""
    out = tmp_path / "masks"
    inputs = [clips / "cisco.mp4", clips / "gif.gif"]
    result = run_cli("batch", *map(str, inputs), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--parts",
                     "face_oval,lips", "--workers", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    for clip in inputs:
        single = tmp_path / f"{clip.stem}.mkv"
        assert run_cli("run", str(clip), "-o", str(single), "--model", "selfie", "--parts", "face_oval,lips"
                       ).returncode == 0
        assert packets(out / f"{clip.stem}.mkv") == packets(single), clip.name


def test_outputs_written_inside_the_input_folder_are_not_taken_as_inputs(clips: Path, tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    (folder / "day1").mkdir(parents=True)
    shutil.copy(clips / "cisco.mp4", folder / "day1" / "cisco.mp4")
    pattern = f"{folder}/{{parent}}/{{stem}}_mask.mkv"
    first = run_cli("batch", str(folder), "--recursive", "-o", pattern, "--model", "selfie")
    assert first.returncode == 0 and "1 done, 0 skipped, 0 failed" in first.stdout
    again = run_cli("batch", str(folder), "--recursive", "-o", pattern, "--model", "selfie")
    assert again.returncode == 0 and "0 done, 1 skipped, 0 failed" in again.stdout
    assert sorted(path.name for path in (folder / "day1").iterdir()) == [
        "cisco.mp4", "cisco_mask.mkv", "cisco_mask.mkv.json"]


def test_the_output_of_a_changed_input_is_not_taken_as_done(clips: Path, tmp_path: Path) -> None:
    source = tmp_path / "cisco.mp4"
    shutil.copy(clips / "cisco.mp4", source)
    out = tmp_path / "{stem}.mkv"
    assert run_cli("batch", str(source), "-o", str(out), "--model", "selfie").returncode == 0
    os.utime(source, ns=(time.time_ns(), time.time_ns()))  # the input changed (or looks so): its output is stale
    result = run_cli("batch", str(source), "-o", str(out), "--model", "selfie")
    assert result.returncode == 1 and "0 done, 0 skipped, 1 failed" in result.stdout
    assert "exists: pass --overwrite" in result.stdout
    redone = run_cli("batch", str(source), "-o", str(out), "--model", "selfie", "--overwrite")
    assert redone.returncode == 0 and "1 done, 0 skipped, 0 failed" in redone.stdout


def parkour_batch(tmp_path: Path, copies: int, *options: str) -> tuple[list[str], Path]:
    """A folder of `copies` copies of the 100-frame parkour clip; the batch command over it and its output folder."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for index in range(copies):
        shutil.copy(PARKOUR, clips / f"parkour{index}.mp4")
    out = tmp_path / "masks"
    return [sys.executable, "-m", "stream_mask.cli", "batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model",
            "selfie", *options], out


def test_sigkill_mid_batch_then_resume_finishes_the_rest(tmp_path: Path) -> None:
    command, out = parkour_batch(tmp_path, 6, "--workers", "2")
    batch = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.monotonic() + 300
    # Kill once a file is done and another is being written (between two files there may be no partial).
    while not (list(out.glob("*.mkv.json")) and list(out.glob(".*.partial"))) and time.monotonic() < deadline \
            and batch.poll() is None:
        time.sleep(0.01)
    os.killpg(batch.pid, signal.SIGKILL)  # the batch and its workers, mid-file
    batch.communicate()
    finished = {path.name: path.stat().st_mtime_ns for path in out.glob("*.mkv") if
                (out / f"{path.name}.json").exists()}
    assert 1 <= len(finished) < 6, "the kill should land after the first file and before the last"
    assert any(path.name.endswith(".partial") for path in out.iterdir()), "a file in progress left its partial"

    result = subprocess.run(command + ["-v"], env=cli_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{6 - len(finished)} done, {len(finished)} skipped, 0 failed" in result.stdout
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted([f"parkour{index}.mkv" for index in range(6)] +
                           [f"parkour{index}.mkv.json" for index in range(6)])  # no partial, no claim left
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime  # skipped, not encoded again
    first = packets(out / "parkour0.mkv")
    assert len(first) == 100
    assert all(packets(out / f"parkour{index}.mkv") == first for index in range(1, 6))


def test_a_resume_clears_what_a_killed_batch_left_beside_a_finished_output(tmp_path: Path) -> None:
    """A batch killed between publishing an output and releasing its claim leaves the claim (and perhaps a partial
    of its sidecar) beside a finished output; the resume takes the output as done, and clears them."""
    command, out = parkour_batch(tmp_path, 1)
    subprocess.run(command, env=cli_env(), check=True, capture_output=True, timeout=600)
    done = out / "parkour0.mkv"
    mtime = done.stat().st_mtime_ns
    dead = 4194304 + 1  # above Linux's highest pid: no process has it
    (out / ".parkour0.mkv.claim").write_text(f"{dead}\n")  # a claim no process holds a lock on any more
    (out / f".parkour0.mkv.json.{dead}.partial").write_text("{")
    result = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "0 done, 1 skipped, 0 failed" in result.stdout, result.stdout + result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["parkour0.mkv", "parkour0.mkv.json"]
    assert done.stat().st_mtime_ns == mtime


def test_sigterm_mid_batch_discards_the_files_in_progress_and_says_what_is_left(tmp_path: Path) -> None:
    command, out = parkour_batch(tmp_path, 4, "--workers", "2")
    batch = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob(".*.partial")) and time.monotonic() < deadline:
        time.sleep(0.02)
    batch.send_signal(signal.SIGTERM)  # the batch only: it stops its workers
    stdout, stderr = batch.communicate(timeout=120)
    assert batch.returncode == 128 + signal.SIGTERM, stdout + stderr
    assert "interrupted: " in stdout and "left (the same command finishes them)" in stdout
    assert "Traceback" not in stderr
    done = sorted(path.name for path in out.glob("*.mkv"))
    assert sorted(path.name for path in out.iterdir()) == sorted(done + [f"{name}.json" for name in done])
    assert all(len(packets(out / name)) == 100 for name in done)  # published only when complete

    result = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and f"{4 - len(done)} done, {len(done)} skipped, 0 failed" in result.stdout


def test_a_pattern_that_makes_two_inputs_write_one_output_is_refused_before_anything_runs(
        clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("batch", str(clips / "cisco.mp4"), str(clips / "gif.gif"), "-o", str(out / "mask.mkv"),
                     "--model", "selfie")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"stream-mask: error: {clips / 'cisco.mp4'} and {clips / 'gif.gif'} would both "
                                     f"write {out / 'mask.mkv'}: put {{stem}} or {{name}} (and {{parent}} for files "
                                     f"of the same name in different folders) in -o")
    assert list(out.iterdir()) == []

    # The same name in two folders: {stem} is not enough, {parent} tells them apart.
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(clips / "cisco.mp4", tmp_path / folder / "clip.mp4")
    inputs = [str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4")]
    clash = run_cli("batch", *inputs, "-o", f"{out}/{{stem}}.mkv", "--model", "selfie")
    assert clash.returncode == 1 and f"would both write {out}/clip.mkv" in clash.stderr
    assert list(out.iterdir()) == []
    apart = run_cli("batch", *inputs, "-o", f"{out}/{{parent}}/{{stem}}.mkv", "--model", "selfie")
    assert apart.returncode == 0, apart.stderr
    assert packets(out / "a" / "clip.mkv") == packets(out / "b" / "clip.mkv")


def test_bad_batch_command_lines_are_one_line_errors(clips: Path, tmp_path: Path) -> None:
    for args, message in [
        ((str(clips),), "give -o PATTERN"),
        ((str(tmp_path / "missing.mp4"), "-o", "{stem}.mkv"), f"input not found: {tmp_path / 'missing.mp4'}"),
        ((str(tmp_path / "*.mov"), "-o", "{stem}.mkv"), f"no files match {tmp_path / '*.mov'}"),
        ((str(clips), "-o", "{stem}.mkv", "--workers", "0"), "--workers: must be a whole number, 1 or more"),
    ]:
        result = run_cli("batch", *args, "--model", "selfie", cwd=tmp_path)
        assert result.returncode != 0
        assert result.stderr.startswith("stream-mask: error: ") and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1


# --- Ray ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_address() -> str:
    """A real local Ray (2 CPUs) started by this test module; the batch joins it by address."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'stream-mask[ray]')")
    context = ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()


def test_ray_gives_the_same_outputs_and_summary(clips: Path, singles: dict[str, Path], ray_address: str,
                                                tmp_path: Path) -> None:
    out = tmp_path / "masks"
    report = tmp_path / "report.json"
    result = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--report", str(report),
                     "--ray", ray_address)
    check_batch_result(result, clips, out, singles, report)
    again = run_cli("batch", str(clips), "-o", f"{out}/{{stem}}.mkv", "--model", "selfie", "--ray", ray_address)
    assert "0 done, 3 skipped, 2 failed" in again.stdout


def _ray_worker_pids() -> list[int]:
    """Processes of this machine's Ray running a batch file (their title is Ray's `ray::RayWorker.process`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::RayWorker.process"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker through /proc")
def test_a_ray_worker_killed_mid_file_is_retried_and_the_file_done_once(ray_address: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    command, out = parkour_batch(tmp_path, 1, "--ray", ray_address, "--report", str(report))
    batch = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    killed: list[int] = []
    while not killed and batch.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        if list(out.glob(".parkour0.mkv.*.partial")):  # the worker has begun to write
            killed = _ray_worker_pids()
    assert killed, f"no Ray worker was seen running the file: {batch.communicate()}"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 0, stdout + stderr
    assert "1 done, 0 skipped, 0 failed" in stdout
    assert sorted(path.name for path in out.iterdir()) == ["parkour0.mkv", "parkour0.mkv.json"]
    assert len(packets(out / "parkour0.mkv")) == 100
    assert [entry["status"] for entry in json.loads(report.read_text())["files"]] == ["done"]
