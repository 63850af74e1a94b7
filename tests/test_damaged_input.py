"""Damaged and odd input through the real command: corrupt videos, empty images, outputs FFmpeg's encoders
refuse or would need far too much memory for, a PNG named .mp4, and small things users trip over.

A damaged file is made the way a bad disk or a cut download makes one: a copy of a real clip with a few
kilobytes in the middle overwritten. What we must decode is what plain PyAV (FFmpeg) decodes when it skips the
packets that fail, as the ffmpeg command does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from test_cli_errors import IMAGE, LONG_VIDEO, MODELS, SHORT_VIDEO, decode_all, error_line, isolated_env, listing, run_cli

__all__ = ["isolated_env"]  # the fixture: every command here runs offline with a private cache

WARNING = "stream-mask: warning: "


def damage(source: Path, target: Path, fraction: float = 0.5, size: int = 8192) -> None:
    """A copy of `source` with `size` bytes at `fraction` of its length overwritten (zeros: deterministic)."""
    data = bytearray(source.read_bytes())
    start = int(len(data) * fraction)
    data[start:start + size] = bytes(size)
    target.write_bytes(bytes(data))


def pyav_decode(path: Path) -> tuple[int, int]:
    """(frames, packets that failed) decoding every video packet with plain PyAV, skipping the ones that fail,
    with frame and slice threads as the ffmpeg command decodes (frame threads drop a frame that fails in a
    worker without an error: on a cut-off last packet they give 2 frames fewer than one thread)."""
    frames = failed = 0
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        for packet in container.demux(video=0):
            try:
                frames += len(packet.decode())
            except av.error.FFmpegError:
                failed += 1
    return frames, failed


def strict_decode_fails(path: Path) -> bool:
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                pass
        except av.error.FFmpegError:
            return True
    return False


def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(WARNING)]


def summary(result) -> str:
    return result.stdout.splitlines()[-1]


# --- item 9: damage in the middle of a video -------------------------------------------------------------


def test_damage_mid_video_is_skipped_and_reported_like_ffmpeg(tmp_path):
    damaged = tmp_path / "juggle_damaged.mp4"
    damage(LONG_VIDEO, damaged)
    assert strict_decode_fails(damaged)  # the damage is real: a decoder that stops at errors stops early
    reference_frames, reference_failed = pyav_decode(damaged)
    assert 200 < reference_frames < 247 and reference_failed > 0

    target = tmp_path / "m.mkv"
    result = run_cli("run", damaged, "-o", target, "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [warning] = warnings(result)
    assert str(damaged) in warning and f"{reference_failed} damaged packet" in warning, warning
    line = summary(result)
    assert line.startswith(f"{reference_frames} frames in "), line
    assert f"{reference_failed} damaged packet" in line, line
    assert decode_all(target)[0] == reference_frames
    sidecar = json.loads((tmp_path / "m.mkv.json").read_text())
    assert sidecar["frames"] == reference_frames and sidecar["input"]["frames_expected"] == 247
    assert sidecar["skipped"] == {"count": reference_failed, "what": "damaged packets"}


def test_intact_video_reports_nothing_skipped(tmp_path):
    result = run_cli("run", SHORT_VIDEO, "-o", tmp_path / "m.mkv", "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [] and "skipped" not in summary(result)
    assert json.loads((tmp_path / "m.mkv.json").read_text())["skipped"] == {"count": 0, "what": "damaged packets"}


def test_video_damaged_beyond_any_frame_is_an_error(tmp_path):
    """Every video packet overwritten: nothing decodes, so there is nothing to write."""
    data = bytearray(SHORT_VIDEO.read_bytes())
    with av.open(str(SHORT_VIDEO)) as container:
        spans = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    for position, size in spans:
        data[position:position + size] = bytes(size)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    assert pyav_decode(broken)[0] == 0
    out = tmp_path / "out"
    out.mkdir()
    error_line(run_cli("run", broken, "-o", out / "m.mkv", "--model", "selfie"), str(broken), "no decodable video frames")
    assert listing(out) == []


# --- item 11: empty images, unwritable places, pictures too large ------------------------------------------


def test_empty_image_alone_is_a_one_line_error(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    error_line(run_cli("run", empty, "-o", out / "m.png", "--model", "selfie"), "cannot read", str(empty), "empty file")
    assert listing(out) == []


@pytest.mark.parametrize("bad", [b"", b"not a picture at all"], ids=["empty", "garbage"])
def test_unreadable_image_in_a_folder_is_skipped_with_a_warning(tmp_path, bad):
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "a_bad.jpg").write_bytes(bad)  # first in order: the size comes from the next one
    (folder / "b.png").write_bytes(IMAGE.read_bytes())
    (folder / "c.png").write_bytes(IMAGE.read_bytes())
    out = tmp_path / "masks"
    result = run_cli("run", folder, "-o", out, "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    [warning] = warnings(result)
    assert "a_bad.jpg" in warning and "skipped" in warning, warning
    assert summary(result).startswith("2 frames in ") and "1 unreadable image skipped" in summary(result)
    assert listing(out) == ["b.png", "c.png", "stream_mask.json"]
    sidecar = json.loads((out / "stream_mask.json").read_text())
    assert sidecar["skipped"] == {"count": 1, "what": "unreadable images"}


def test_folder_of_only_unreadable_images_is_an_error(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    (folder / "b.png").write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    error_line(run_cli("run", folder, "-o", out / "masks", "--model", "selfie"), str(folder), "no readable images")
    assert listing(out) == []


def test_output_where_no_file_can_be_made_is_a_one_line_error(tmp_path):
    error_line(run_cli("run", SHORT_VIDEO, "-o", "/proc/x.mkv", "--model", "selfie"), "cannot write", "/proc/x.mkv")
    error_line(run_cli("run", IMAGE, "-o", "/proc/x.png", "--model", "selfie"), "cannot write", "/proc/x.png")
    error_line(run_cli("run", SHORT_VIDEO, "-o", "/proc/masks/%05d.png", "--model", "selfie"), "cannot write")
    assert not Path("/proc/x.mkv").exists()


@pytest.fixture(scope="module")
def huge_picture(tmp_path_factory) -> Path:
    """An 8000x8000 picture of a person (the portrait golden, scaled up)."""
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    portrait = cv2.imread(str(MODELS.parent / "media" / "goldens" / "portrait.jpg"))
    cv2.imwrite(str(path), cv2.resize(portrait, (8000, 8000), interpolation=cv2.INTER_LINEAR))
    return path


def test_huge_picture_to_mkv_is_written(tmp_path, huge_picture):
    """FFV1 with 4 slices refuses 8000x8000 (each slice may hold at most 2^27 bits of context state): the sink
    takes as many slices as the size needs."""
    target = tmp_path / "m.mkv"
    result = run_cli("run", huge_picture, "-o", target, "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    assert decode_all(target) == (1, 8000, 8000)


def test_huge_picture_to_webm_is_refused_before_any_work(tmp_path, huge_picture):
    out = tmp_path / "out"
    out.mkdir()
    line = error_line(run_cli("run", huge_picture, "-o", out / "a.webm", "--model", "selfie"),
                      "8000x8000", "VP9", "35,651,584", ".mkv")
    assert "GiB" in line
    assert listing(out) == []


def test_picture_beyond_the_encoder_limit_is_refused(tmp_path):
    """libx264 takes at most 16384 pixels a side: say so, and what can take it."""
    tall = tmp_path / "tall.png"
    cv2.imwrite(str(tall), np.full((16400, 16, 3), 128, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    error_line(run_cli("run", tall, "-o", out / "m.mp4", "--model", "selfie"), "16x16400", "H.264", "16384", ".mkv")
    assert listing(out) == []


# --- item 12: a PNG named .mp4 (FFmpeg reads it; its ICC profile used to crash PyAV at exit) ---------------


def test_png_named_mp4_exits_cleanly(tmp_path):
    disguised = tmp_path / "photo.mp4"
    disguised.write_bytes(IMAGE.read_bytes())  # astronaut.png carries an ICC profile (iCCP chunk)
    result = run_cli("run", disguised, "-o", tmp_path / "m.mkv", "--model", "selfie", "-q")
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert summary(result).startswith("1 frames in ")
    assert decode_all(tmp_path / "m.mkv") == (1, 512, 512)


def test_flipped_input_keeps_its_whole_display_matrix(tmp_path):
    """A mirrored (not rotated) phone video: the matrix, flip included, reaches the outputs."""
    source = tmp_path / "mirrored.mp4"
    matrix = [-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]  # x -> -x: a horizontal flip
    rgb = cv2.resize(cv2.cvtColor(cv2.imread(str(IMAGE)), cv2.COLOR_BGR2RGB), (160, 160))
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 160
        stream.pix_fmt = "yuv420p"
        stream.set_display_matrix(matrix)
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    result = run_cli("run", source, "-o", tmp_path / "m.mkv", "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "m.mkv")) as container:
        frame = next(container.decode(video=0))
        written = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        assert written is not None and np.frombuffer(bytes(written), "<i4").tolist() == matrix


# --- item 13: small things ----------------------------------------------------------------------------------


def test_pattern_output_creates_its_folder_like_a_folder_output(tmp_path):
    """`-o masks/%05d.png` is the --help example: a missing masks/ is made, as for `-o masks`."""
    result = run_cli("run", SHORT_VIDEO, "-o", tmp_path / "masks" / "%05d.png", "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    assert listing(tmp_path / "masks") == [f"{k:05d}.png" for k in range(9)] + ["stream_mask.json"]


def test_pattern_output_needs_its_parent_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "no" / "masks" / "%05d.png", "--model", "selfie"),
               "output folder does not exist", str(out / "no"))
    assert listing(out) == []


def test_unknown_extension_lists_every_format(tmp_path):
    error_line(run_cli("run", SHORT_VIDEO, "-o", tmp_path / "m.xyz", "--model", "selfie"),
               ".mkv", ".mp4", ".mov", ".webm", ".png")


def test_missing_input_is_reported_before_a_missing_model(tmp_path):
    """The default (multiclass) model is absent here: the missing input is still what the user hears about."""
    missing = tmp_path / "missing.mp4"
    error_line(run_cli("run", missing, "-o", tmp_path / "m.mkv"), "input not found", str(missing))


def test_missing_model_names_the_model_dir_variable(tmp_path):
    error_line(run_cli("run", SHORT_VIDEO, "-o", tmp_path / "m.mkv"), f"in {MODELS} ($STREAM_MASK_MODEL_DIR)")


@pytest.mark.parametrize("relative", [False, True], ids=["outside-the-checkout", "relative"])
def test_edges_pictures_writes_to_any_folder(tmp_path, relative):
    """benchmarks/edges_pictures.py --out DIR: a folder outside the checkout, or given relative to the cwd."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "edges_pictures.py"
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, str(script), "--shared", str(MODELS.parent), "--out",
                             "pictures" if relative else str(out), "--no-timings"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in out.glob("*.png"))
    assert "feather_after.png" in written and len(written) == len(result.stdout.splitlines())


def test_file_cut_short_is_read_to_the_cut_with_a_warning(tmp_path):
    """A download that stopped halfway: the frames up to the cut, as plain PyAV decodes them, and a warning."""
    cut = tmp_path / "cut.mp4"
    data = LONG_VIDEO.read_bytes()
    cut.write_bytes(data[:len(data) * 6 // 10])
    reference_frames = pyav_decode(cut)[0]
    assert 0 < reference_frames < 247
    result = run_cli("run", cut, "-o", tmp_path / "m.mkv", "--model", "selfie", "-q")
    assert result.returncode == 0, result.stderr
    [warning] = warnings(result)
    assert str(cut) in warning and "ends early" in warning and "of the 247 video packets" in warning, warning
    assert summary(result).startswith(f"{reference_frames} frames in ")
    assert decode_all(tmp_path / "m.mkv")[0] == reference_frames
