"""--subjects: the N main people kept, each followed from frame to frame (stream_mask/subjects.py).

Stand-in sequences through the real command: people painted in the stand-in model's class colours on a black
(background) frame, so what the model sees is known exactly. Then real footage with the selfie model.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import MEDIA, ROOT, needs_shared, run_cli
from standin_model import COLOURS
from test_parts_and_threshold import write_lossless_video
from test_preview import _xdotool, describe, is_mask_view, needs_x, start, xvfb  # noqa: F401  (the window's fixtures)
from stream_mask import VideoMasker
from stream_mask.config import SUBJECT_RELEASE_S
from stream_mask.errors import StreamMaskError

sys.path.insert(0, str(ROOT / "benchmarks"))
import quality  # noqa: E402  (the benchmarks' own scoring: the same figures as the README's)

SIZE = 256  # the stand-in's own input size: no resampling blurs the painted edges
FPS = 10
HAIR, BODY, FACE, CLOTHES = COLOURS[1], COLOURS[2], COLOURS[3], COLOURS[4]
CISCO = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # two people side by side, touching at the bottom
HEAD_POSE = MEDIA / "people" / "head-pose-face-detection-female-and-male.gif"  # two people apart, 56 frames


def paint(frame: np.ndarray, centre: int, width: int, top: int = 40) -> tuple[slice, slice]:
    """A person `width` wide centred at column `centre`: hair, face, then clothes below; the clothes' rows and
    columns (all painted: a mask of this person covers them)."""
    left, right = centre - width // 2, centre + width // 2
    head = slice(centre - width // 4, centre + width // 4)
    frame[top:top + width * 15 // 100, head] = HAIR
    frame[top + width * 15 // 100:top + width * 55 // 100, head] = FACE
    bottom = min(SIZE, top + width * 16 // 10)
    frame[top + width * 55 // 100:bottom, left:right] = CLOTHES
    return slice(top + width * 55 // 100, bottom), slice(left, right)


def read_masks(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") > 127 for frame in container.decode(video=0)]


def run(tmp_path: Path, frames: list[np.ndarray], model: Path, *options: str, outputs: tuple[str, ...] = ("",),
        name: str = "out") -> list[list[np.ndarray]]:
    """`stream-mask run` on these frames (FFV1, FPS); per output `--parts P -o name_P.mkv`, its masks."""
    source = tmp_path / "people.mkv"
    if not source.exists():
        write_lossless_video(source, frames, fps=FPS)
    args = []
    for parts in outputs:
        args += [*(("--parts", parts) if parts else ()), "-o", str(tmp_path / f"{name}_{parts}.mkv")]
    result = run_cli("run", str(source), "--model", str(model), "-q", *options, *args)
    assert result.returncode == 0, result.stderr
    return [read_masks(tmp_path / f"{name}_{parts}.mkv") for parts in outputs]


def test_a_larger_person_behind_does_not_take_the_subjects_place(tmp_path: Path, standin_model: Path) -> None:
    """A (central) is chosen as the subject over the first SUBJECT_RELEASE_S; then B behind grows larger than A for
    four frames and shrinks back: A stays the subject in every frame, for the person and for the hair alone (parts
    stay parts)."""
    frames, places = [], []
    chosen = round(SUBJECT_RELEASE_S * FPS)
    grown = range(chosen + 2, chosen + 6)
    for index in range(chosen + 10):
        frame = np.zeros((SIZE, SIZE, 3), np.uint8)
        a = paint(frame, 100, 70)
        b = paint(frame, 200, 90 if index in grown else 40, top=60)
        frames.append(frame)
        places.append((a, b))
    person, hair = run(tmp_path, frames, standin_model, "--subjects", "1", outputs=("person", "hair"))
    everyone, = run(tmp_path, frames, standin_model, outputs=("person",), name="all")
    for index, (a, b) in enumerate(places):
        assert person[index][a].mean() > 0.95, f"frame {index}: the subject A is not kept"
        assert not person[index][:, 150:].any(), f"frame {index}: B is kept ({'larger' if index in grown else 'smaller'})"
        assert everyone[index][b].mean() > 0.95, "without --subjects, B is masked too"
        assert hair[index][:, :150].any() and not hair[index][:, 150:].any(), f"frame {index}: B's hair is kept"
        assert not (hair[index] & ~person[index]).any()


def test_a_subject_who_leaves_is_released_after_the_documented_time(tmp_path: Path, standin_model: Path) -> None:
    """A, chosen, leaves after frame 4: nobody is kept while A may come back, then B (the next main person) from
    the first frame more than SUBJECT_RELEASE_S after A was last seen."""
    frames = []
    for index in range(30):
        frame = np.zeros((SIZE, SIZE, 3), np.uint8)
        if index <= 4:
            paint(frame, 110, 80)
        paint(frame, 215, 40, top=60)
        frames.append(frame)
    masks, = run(tmp_path, frames, standin_model, "--subjects", "1", outputs=("person",))
    last_seen_ms = 4 * 1000 // FPS
    for index, mask in enumerate(masks):
        ms = index * 1000 // FPS
        if index <= 4:
            assert mask[:, :170].mean() > 0.05 and not mask[:, 170:].any(), f"frame {index}: A only"
        elif ms / 1000 - last_seen_ms / 1000 <= SUBJECT_RELEASE_S:
            assert not mask.any(), f"frame {index} ({ms} ms): A's place is held, nobody else is kept"
        else:
            assert mask[:, 170:].mean() > 0.05 and not mask[:, :170].any(), f"frame {index} ({ms} ms): B is taken"
    assert any(index > 4 and not mask.any() for index, mask in enumerate(masks))


def test_two_subjects_of_three_people_and_the_label_map(tmp_path: Path, standin_model: Path) -> None:
    """--subjects 2 keeps the two best scored (the largest, most central); in a label map the third is background."""
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    big = paint(frame, 128, 70)
    mid = paint(frame, 40, 50)
    small = paint(frame, 222, 30, top=80)
    source = tmp_path / "three.mkv"
    write_lossless_video(source, [frame] * 3, fps=FPS)
    result = run_cli("run", str(source), "--model", str(standin_model), "-q", "--subjects", "2",
                     "--parts", "person", "-o", str(tmp_path / "two.mkv"), "--kind", "labels", "-o",
                     str(tmp_path / "labels.mkv"))
    assert result.returncode == 0, result.stderr
    for mask in read_masks(tmp_path / "two.mkv"):
        assert mask[big].mean() > 0.95 and mask[mid].mean() > 0.95 and not mask[small].any()
    with av.open(str(tmp_path / "labels.mkv")) as container:
        labels = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert all((label[small] == 0).all() and (label[big] == 4).mean() > 0.5 for label in labels)


def test_people_holding_hands_are_told_apart(tmp_path: Path, standin_model: Path) -> None:
    """Two people joined by their arms are one connected region: it is split at their bodies, and `--subjects 1`
    keeps the larger, central one (arm included up to the middle of the bridge), nothing of the other."""
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    a = paint(frame, 105, 80)
    b = paint(frame, 202, 70, top=50)
    frame[150:156, 143:169] = BODY  # the arms, between them
    masks, = run(tmp_path, [frame] * 4, standin_model, "--subjects", "1", outputs=("person",))
    everyone, = run(tmp_path, [frame] * 4, standin_model, outputs=("person",), name="all")
    count, _ = cv2.connectedComponents(everyone[0].astype(np.uint8))
    assert count == 2, "one connected region holds both people"
    for mask in masks:
        assert mask[a].mean() > 0.95 and not mask[b].any()
        assert mask[150:156, 143:150].all() and not mask[:, 175:].any()


def test_the_library_takes_the_same_choice(standin_model: Path) -> None:
    """VideoMasker(subjects=1): the same rule frame by frame; 0 is everyone; a bad value is a StreamMaskError."""
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    a = paint(frame, 100, 70)
    paint(frame, 210, 40, top=60)
    with VideoMasker(str(standin_model), parts="hair,person", subjects=1) as masker:
        masks = [masker(frame, 100 * index) for index in range(3)]
    assert all(mask[a].mean() > 0.95 * 255 and not mask[:, 160:].any() for mask in masks)
    with VideoMasker(str(standin_model), parts="person", subjects=0) as everyone:
        assert everyone(frame, 0)[:, 160:].any()
    for bad in (-1, 1.5, "1", True):
        with pytest.raises(StreamMaskError, match="subjects"):
            VideoMasker(str(standin_model), subjects=bad)


@pytest.mark.parametrize("bad", ["none", "two", "-1", "1.5"])
def test_a_bad_subjects_value_is_a_one_line_error(tmp_path: Path, bad: str) -> None:
    result = run_cli("run", str(CISCO), "-o", str(tmp_path / "out.mkv"), "--subjects", bad)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("stream-mask: error:") and "--subjects" in result.stderr
    assert not list(tmp_path.iterdir())


# --- real footage ------------------------------------------------------------------------------------------


def components(mask: np.ndarray, least: int) -> list[np.ndarray]:
    """The connected regions of `mask` of `least` pixels or more, largest first."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    return [labels == i for i in order if stats[i, cv2.CC_STAT_AREA] >= least]


@needs_shared
@pytest.mark.parametrize("options", [(), ("--refine", "--smooth")], ids=["plain", "refine-smooth"])
def test_subjects_all_gives_todays_masks_exactly(tmp_path: Path, options: tuple[str, ...]) -> None:
    """The default and `--subjects all`, bit for bit, on both two-person clips."""
    for clip in (CISCO, HEAD_POSE):
        outs = []
        for name, extra in (("default", ()), ("all", ("--subjects", "all"))):
            out = tmp_path / f"{clip.stem}_{name}.mkv"
            result = run_cli("run", str(clip), "--model", "selfie", "-q", *options, *extra, "-o", str(out))
            assert result.returncode == 0, result.stderr
            with av.open(str(out)) as container:
                outs.append([f.to_ndarray(format="gray") for f in container.decode(video=0)])
        assert len(outs[0]) == len(outs[1]) > 0
        assert all(np.array_equal(a, b) for a, b in zip(*outs))


@needs_shared
@pytest.mark.parametrize("options", [(), ("--refine", "--smooth")], ids=["plain", "refine-smooth"])
def test_one_subject_on_the_head_pose_clip_is_one_person_the_same_throughout(tmp_path: Path,
                                                                             options: tuple[str, ...]) -> None:
    """Two people apart: `--subjects 1` keeps one of the two people of each frame of `all`, all of them, and never
    any of the other; always the same one (the side of the frame they stand on)."""
    one = run_cli("run", str(HEAD_POSE), "--model", "selfie", "-q", "--subjects", "1", *options,
                  "-o", str(tmp_path / "one.mkv"))
    everyone = run_cli("run", str(HEAD_POSE), "--model", "selfie", "-q", *options, "-o", str(tmp_path / "all.mkv"))
    assert one.returncode == 0 and everyone.returncode == 0, one.stderr + everyone.stderr
    kept_sides = set()
    masks, alls = read_masks(tmp_path / "one.mkv"), read_masks(tmp_path / "all.mkv")
    assert len(masks) == len(alls) == 56
    for index, (mask, full) in enumerate(zip(masks, alls)):
        people = components(full, least=full.size // 50)
        assert len(people) == 2, f"frame {index}: the clip has two people apart"
        inside = [np.count_nonzero(mask & person) / np.count_nonzero(person) for person in people]
        kept = int(np.argmax(inside))
        assert inside[kept] > 0.99 and inside[1 - kept] == 0, f"frame {index}: {inside}"
        kept_sides.add(bool(np.nonzero(people[kept])[1].mean() > full.shape[1] / 2))
    assert len(kept_sides) == 1, "the subject changed"


@needs_shared
def test_face_landmark_parts_follow_the_subjects_face(tmp_path: Path) -> None:
    """--faces 2 draws both faces; with --subjects 1 only the subject's, on the subject's side."""
    masks = {}
    for name, extra in (("all", ()), ("one", ("--subjects", "1"))):
        result = run_cli("run", str(HEAD_POSE), "--model", "selfie", "-q", "--faces", "2", *extra,
                         "--parts", "face_oval", "-o", str(tmp_path / f"{name}_faces.mkv"),
                         "--parts", "person", "-o", str(tmp_path / f"{name}_person.mkv"))
        assert result.returncode == 0, result.stderr
        masks[name] = read_masks(tmp_path / f"{name}_faces.mkv"), read_masks(tmp_path / f"{name}_person.mkv")
    middle = masks["all"][0][0].shape[1] // 2
    sides = set()
    for index, (faces, one, person) in enumerate(zip(masks["all"][0], masks["one"][0], masks["one"][1])):
        assert faces[:, :middle].any() and faces[:, middle:].any(), f"frame {index}: two faces drawn"
        right = bool(person[:, middle:].any())
        assert person[:, middle:].any() != person[:, :middle].any(), f"frame {index}: one person kept"
        kept, dropped = (slice(middle, None), slice(None, middle)) if right else (slice(None, middle), slice(middle, None))
        assert not one[:, dropped].any(), f"frame {index}: the other face is drawn"
        overlap = np.count_nonzero(one[:, kept] & faces[:, kept]) / np.count_nonzero(faces[:, kept])
        assert overlap > 0.95, f"frame {index}: the subject's face is cut ({overlap:.3f} of it kept)"
        sides.add(right)
    assert len(sides) == 1


@needs_shared
@pytest.mark.parametrize("options", [(), ("--refine", "--smooth")], ids=["plain", "refine-smooth"])
def test_touching_people_are_split_and_one_kept(tmp_path: Path, options: tuple[str, ...]) -> None:
    """On CiscoVT2people the two people touch in every frame (one connected region in the plain masks): the region
    is split at its two bodies, and `--subjects 1` keeps one person, the same in every frame, all of them (what `all`
    masks on their side, specks aside) and nothing of the other."""
    for name, extra in (("all", ()), ("one", ("--subjects", "1"))):
        result = run_cli("run", str(CISCO), "--model", "selfie", "-q", *options, *extra,
                         "-o", str(tmp_path / f"{name}.mkv"))
        assert result.returncode == 0, result.stderr
    sides = set()
    for index, (full, one) in enumerate(zip(read_masks(tmp_path / "all.mkv"), read_masks(tmp_path / "one.mkv"))):
        left, right = (slice(None, 100), slice(220, None))  # the man's and the woman's own columns
        assert full[:, left].mean() > 0.3 and full[:, right].mean() > 0.3, "both people are in the clip's masks"
        assert not (one & ~full).any()
        kept = right if one[:, right].any() else left
        other = left if kept is right else right
        assert not one[:, other].any(), f"frame {index}: both people kept"
        covered = np.count_nonzero(one[:, kept]) / np.count_nonzero(full[:, kept])
        assert covered > 0.99, f"frame {index}: the subject is cut ({covered:.3f} kept; specks may go)"
        sides.add(kept is right)
    assert len(sides) == 1, "the subject changed"


@pytest.fixture(scope="module")
def annotated(tmp_path_factory) -> dict[str, Path]:
    """davis_parkour, and spin and bystanders made by the real benchmarks/make_clips.py."""
    clips = {"parkour": MEDIA / "davis_parkour"}
    for kind in ("spin", "bystanders"):
        clips[kind] = tmp_path_factory.mktemp("clips") / kind
        made = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_clips.py"), kind, str(clips[kind])],
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
    return clips


def scores(clip: Path, out_dir: Path, options: tuple[str, ...]) -> dict[str, quality.Score]:
    """The clip through the real command with `--subjects all` and `--subjects 1`, scored against its annotations."""
    found = {}
    for count in ("all", "1"):
        out = out_dir / f"{clip.name}_{count}.mkv"
        result = run_cli("run", str(quality.clip_video(clip)), "--model", "selfie", "--parts", "person", "-q",
                         *options, "--subjects", count, "-o", str(out))
        assert result.returncode == 0, result.stderr
        found[count] = quality.score(quality.read_masks(out), quality.clip_truth(clip))
    return found


@needs_shared
@pytest.mark.parametrize("options", [(), ("--refine", "--smooth")], ids=["plain", "refine-smooth"])
@pytest.mark.parametrize("clip", ["parkour", "spin"])
def test_one_subject_of_a_one_person_clip_loses_nothing(tmp_path: Path, annotated: dict[str, Path], clip: str,
                                                        options: tuple[str, ...]) -> None:
    """On an annotated clip of one person, keeping the main person keeps all of him: pieces of him the model finds
    apart and specks are his, not someone else's. Mean and 5th-percentile IoU are not below `all`'s."""
    found = scores(annotated[clip], tmp_path, options)
    assert found["1"].mean >= found["all"].mean, (found["1"].mean, found["all"].mean)
    assert found["1"].p5 >= found["all"].p5, (found["1"].p5, found["all"].p5)


@needs_shared
@pytest.mark.parametrize("options", [(), ("--refine", "--smooth")], ids=["plain", "refine-smooth"])
def test_one_subject_among_bystanders_drops_them(tmp_path: Path, annotated: dict[str, Path],
                                                 options: tuple[str, ...]) -> None:
    """The bystanders clip (only the runner annotated): the two bystanders dropped, the mean IoU rises well above
    `all`'s (measured: 0.271 -> 0.492 plain)."""
    found = scores(annotated["bystanders"], tmp_path, options)
    assert found["1"].mean > found["all"].mean + 0.15, (found["1"].mean, found["all"].mean)


# --- the preview: a click picks the subject ----------------------------------------------------------------

def white_halves(picture: np.ndarray) -> tuple[float, float]:
    """Share of white pixels in the left and right halves, below the status text (the top fifth)."""
    below = picture[picture.shape[0] // 5:].min(axis=2) >= 250
    middle = below.shape[1] // 2
    return float(below[:, :middle].mean()), float(below[:, middle:].mean())


@needs_shared
@needs_x
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_a_click_in_the_window_picks_the_subject_for_every_output(start, tmp_path: Path) -> None:
    """Everyone at first; a click on the person on the left keeps only them, in the window and in the output;
    `a` brings everyone back. Driven through the real window under Xvfb (xdotool)."""
    with av.open(str(HEAD_POSE)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    source = tmp_path / "head_pose_long.mkv"
    write_lossless_video(source, frames * 5, fps=12)  # 23 s at 12 fps, paced by --realtime
    run = start("-o", "out.mkv", video=source)
    run.wait_for_window()
    both = run.wait_for_view(lambda p: is_mask_view(p) and min(white_halves(p)) > 0.05,
                             "the mask view with both people", keys=("m",), timeout=60)
    below = both[both.shape[0] // 5:].min(axis=2) >= 250
    rows, cols = np.nonzero(below[:, :below.shape[1] // 2])
    x, y = int(cols.mean()), int(rows.mean()) + both.shape[0] // 5  # the left person's centre, in the window

    def left_only(picture: np.ndarray) -> bool:
        left, right = white_halves(picture)
        return is_mask_view(picture) and left > 0.05 and right < 0.001

    for _ in range(5):  # a click sent to a window without a window manager is lost now and then
        _click(run, x, y)
        try:
            run.wait_for_view(left_only, "only the clicked person", timeout=5)
            break
        except pytest.fail.Exception:
            continue
    else:
        pytest.fail(f"a click did not pick the person on the left: {describe(run.screenshot())}; {run.err()}")
    run.wait_for_view(lambda p: is_mask_view(p) and min(white_halves(p)) > 0.05, "both people again after a",
                      keys=("a",))
    run.quit_with("q", tries=5)
    code, stdout, stderr = run.finish()
    assert code == 0, stderr
    written = read_masks(tmp_path / "out.mkv")
    middle = written[0].shape[1] // 2
    sides = [(bool(mask[:, :middle].any()), bool(mask[:, middle:].any())) for mask in written]
    assert sides[0] == (True, True)
    first_pick = sides.index((True, False))  # the output followed the click
    assert (True, True) in sides[first_pick:], "the output followed `a` back to everyone"


def _click(run, x: int, y: int) -> None:
    _xdotool(run.display, "mousemove", "--window", run.window, str(x), str(y), "click", "1")
