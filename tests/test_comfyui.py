"""The ComfyUI nodes, loaded the way ComfyUI loads a custom node, run on real torch tensors of real pictures.

ComfyUI itself is not installed here: its loader is a few lines (importlib from a file in custom_nodes/), done
below as ComfyUI does it, and its `folder_paths` module (what tells the nodes where models/ is) is stood in by a
module holding `models_dir`, as ComfyUI's does. The masks are compared with the original node's rule computed
directly with MediaPipe.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import av
import cv2
import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from conftest import MEDIA, SELFIE, needs_shared, run_cli
from standin_model import COLOURS

torch = pytest.importorskip("torch", reason="torch (ComfyUI's) is not installed: pip install torch==2.13.0")

pytestmark = needs_shared
PEOPLE = MEDIA / "people"
CATEGORY = "A Person Mask Generator - David Bielejeski"
STANDIN = "standin_multiclass.tflite"


def enabled(default: bool) -> tuple:
    return ("BOOLEAN", {"default": default, "label_on": "enabled", "label_off": "disabled"})


CONFIDENCE = ("FLOAT", {"default": 0.40, "min": 0.01, "max": 1.0, "step": 0.01})

# The lists, in the original's order (a saved workflow holds the widget values by position).
MASK_INPUTS = {"face_mask": enabled(True), "background_mask": enabled(False), "hair_mask": enabled(False),
               "body_mask": enabled(False), "clothes_mask": enabled(False), "confidence": CONFIDENCE,
               "refine_mask": enabled(True)}
FACE_INPUTS = {"face": enabled(False), "left_eyebrow": enabled(False), "right_eyebrow": enabled(False),
               "left_eye": enabled(True), "right_eye": enabled(True), "left_pupil": enabled(True),
               "right_pupil": enabled(True), "lips": enabled(True),
               "number_of_faces": ("INT", {"default": 1, "min": 1, "max": 10, "step": 1}), "confidence": CONFIDENCE}


def load_custom_node(path: Path) -> types.ModuleType:
    """ComfyUI's nodes.load_custom_node for a file in custom_nodes/: import it by path, under its path's name."""
    name = os.path.splitext(str(path))[0]
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def comfy(tmp_path_factory) -> Path:
    """A ComfyUI-like folder: custom_nodes/ with what `stream-mask comfyui-install` writes, and models/mediapipe/."""
    root = tmp_path_factory.mktemp("ComfyUI")
    (root / "custom_nodes").mkdir()
    (root / "models" / "mediapipe").mkdir(parents=True)
    result = run_cli("comfyui-install", str(root / "custom_nodes"))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def nodes(comfy, standin_model):
    """NODE_CLASS_MAPPINGS as ComfyUI reads them, with ComfyUI's models/mediapipe/ holding the stand-in 6-class
    model and the selfie model (and no other model anywhere: no lookup elsewhere, no download)."""
    shutil.copy(standin_model, comfy / "models" / "mediapipe" / STANDIN)
    shutil.copy(SELFIE, comfy / "models" / "mediapipe" / SELFIE.name)
    patch = pytest.MonkeyPatch()
    patch.setitem(sys.modules, "folder_paths", types.SimpleNamespace(models_dir=str(comfy / "models")))
    patch.delenv("STREAM_MASK_MODEL_DIR", raising=False)
    patch.setenv("STREAM_MASK_MODEL_MIRROR", "http://127.0.0.1:9")
    patch.setenv("XDG_CACHE_HOME", str(comfy / "empty-cache"))
    module = load_custom_node(comfy / "custom_nodes" / "stream_mask_nodes.py")
    yield module
    from stream_mask.comfyui import nodes as node_module

    node_module.close_models()
    patch.undo()


def picture(name: str, size: int = 512) -> np.ndarray:
    """A shared picture as size x size RGB: scaled to that width or height, the top kept (where the heads are)."""
    rgb = cv2.cvtColor(cv2.imread(str(PEOPLE / name)), cv2.COLOR_BGR2RGB)
    scale = size / min(rgb.shape[:2])
    rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    left = (rgb.shape[1] - size) // 2
    return np.ascontiguousarray(rgb[:size, left:left + size])


def as_image(batch: np.ndarray):
    """uint8 NxHxWx3 -> a ComfyUI IMAGE, as LoadImage makes it (float32 / 255)."""
    return torch.from_numpy(batch.astype(np.float32) / 255.0)


def painted(rgb: np.ndarray) -> np.ndarray:
    """A real picture with a block of each stand-in class colour, so that every part is present."""
    out = rgb.copy()
    for index, colour in enumerate(COLOURS):
        out[40 + 70 * index:90 + 70 * index, 30 + 60 * index:100 + 60 * index] = colour
    return out


def original_rule(model: Path, rgb: np.ndarray, channels: list[tuple[int, bool]], confidence: float,
                  refine: bool) -> np.ndarray:
    """The original node's mask, straight from MediaPipe: the union of the chosen channels' confidences
    (`inverted`: 1 - it) `> confidence`; refine: the same on the mask's bounding box padded by round(20%)
    each side (clamped), pasted into an empty mask."""
    options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                                    running_mode=VisionTaskRunningMode.IMAGE,
                                                    output_confidence_masks=True)
    with image_segmenter.ImageSegmenter.create_from_options(options) as segmenter:
        def mask(image: np.ndarray) -> np.ndarray:
            result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
            planes = [m.numpy_view().reshape(image.shape[:2]) for m in result.confidence_masks]
            out = np.zeros(image.shape[:2], dtype=bool)
            for channel, inverted in channels:
                out |= ((1.0 - planes[channel]) if inverted else planes[channel]) > confidence
            return out

        first = mask(rgb)
        if not refine or not first.any():
            return first.astype(np.float32)
        ys, xs = np.nonzero(first)
        left, upper, right, lower = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        pad_x, pad_y = round((right - left) * 0.2), round((lower - upper) * 0.2)
        height, width = rgb.shape[:2]
        left = left - pad_x if left > pad_x else 0
        upper = upper - pad_y if upper > pad_y else 0
        right = right + pad_x if right < width - pad_x else width
        lower = lower + pad_y if lower < height - pad_y else height
        refined = np.zeros(rgb.shape[:2], dtype=np.float32)
        refined[upper:lower, left:right] = mask(rgb[upper:lower, left:right])
        return refined


# --- loading and interfaces -------------------------------------------------------------------------


def test_the_loader_comfyui_install_writes_gives_the_nodes(nodes):
    assert set(nodes.NODE_CLASS_MAPPINGS) == {"APersonMaskGenerator", "APersonFaceLandmarkMaskGenerator",
                                              "PersonMaskVideo"}
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS == {"APersonMaskGenerator": "A Person Mask Generator",
                                                "APersonFaceLandmarkMaskGenerator": "A Person Face Landmark Mask Generator",
                                                "PersonMaskVideo": "Person Mask (video)"}
    for name in ("APersonMaskGenerator", "APersonFaceLandmarkMaskGenerator"):  # the originals'
        cls = nodes.NODE_CLASS_MAPPINGS[name]
        assert (cls.RETURN_TYPES, cls.RETURN_NAMES, cls.FUNCTION, cls.CATEGORY) == (("MASK",), ("masks",),
                                                                                    "generate_mask", CATEGORY)
    video = nodes.NODE_CLASS_MAPPINGS["PersonMaskVideo"]
    assert (video.RETURN_TYPES, video.RETURN_NAMES, video.FUNCTION, video.CATEGORY) == (
        ("MASK", "IMAGE"), ("masks", "composite"), "generate_video_masks", CATEGORY)


def without_tooltips(entry: tuple) -> tuple:
    return entry if len(entry) == 1 else (entry[0], {k: v for k, v in entry[1].items() if k != "tooltip"})


@pytest.mark.parametrize("name, expected", [("APersonMaskGenerator", MASK_INPUTS),
                                            ("APersonFaceLandmarkMaskGenerator", FACE_INPUTS)])
def test_inputs_are_the_originals(nodes, name, expected):
    inputs = nodes.NODE_CLASS_MAPPINGS[name].INPUT_TYPES()
    assert inputs["required"] == {"images": ("IMAGE",)}
    optional = {key: without_tooltips(entry) for key, entry in inputs["optional"].items()}
    extra = ["model"] if name == "APersonMaskGenerator" else []
    assert list(optional) == [*expected, *extra]  # the original's first, in its order; ours after them
    assert {key: optional[key] for key in expected} == expected


def test_model_choice_lists_models_in_comfyuis_folder(nodes):
    choices, options = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"].INPUT_TYPES()["optional"]["model"]
    assert options["default"] == "multiclass"
    # The official files are listed by their names (multiclass, selfie); any other .tflite there by its file name.
    assert choices == ["multiclass", "selfie", STANDIN]


def test_the_package_imports_without_torch_or_comfyui(comfy):
    code = ("import sys, importlib.metadata as m; import stream_mask.comfyui, stream_mask.cli; "
            "assert 'torch' not in sys.modules and 'folder_paths' not in sys.modules; "
            "print([r for r in m.requires('stream-mask') if 'torch' in r])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # torch is ComfyUI's, never ours to install


# --- APersonMaskGenerator ---------------------------------------------------------------------------


FLAGS = ["background_mask", "hair_mask", "body_mask", "face_mask", "clothes_mask"]  # channels 0-4 of the 6 classes


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("chosen", [["face_mask"], ["hair_mask", "clothes_mask"], ["background_mask", "body_mask"]])
def test_parts_are_the_original_rule_on_the_6_class_standin(nodes, standin_model, chosen, refine):
    batch = np.stack([painted(picture("astronaut.png")), painted(picture("business-person.png"))])
    flags = {flag: flag in chosen for flag in FLAGS}
    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    (masks,) = node.generate_mask(as_image(batch), **flags, confidence=0.4, refine_mask=refine, model=STANDIN)
    assert masks.dtype == torch.float32 and tuple(masks.shape) == batch.shape[:3]
    channels = [(FLAGS.index(flag), False) for flag in chosen]
    for got, rgb in zip(masks.numpy(), batch):
        expected = original_rule(standin_model, rgb, channels, 0.4, refine)
        assert expected.any() and not expected.all()
        assert np.array_equal(got, expected)


def test_refine_crops_the_mask_of_the_chosen_parts(nodes, standin_model):
    """A face block alone in a corner: refine crops around it, not around the whole picture; the crop's own
    pass is what the mask holds there (a coarse 256x256 pass of the whole picture blurs a thin stripe away)."""
    rgb = np.zeros((600, 600, 3), dtype=np.uint8)
    rgb[20:120, 20:120] = COLOURS[3]  # face
    rgb[60:62, 130:190] = COLOURS[3]  # a 2-pixel stripe: lost at 256x256, kept in the crop
    rgb[300:, :] = COLOURS[4]  # clothes, not chosen
    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    (plain,) = node.generate_mask(as_image(rgb[None]), refine_mask=False, model=STANDIN)
    (refined,) = node.generate_mask(as_image(rgb[None]), refine_mask=True, model=STANDIN)
    expected = original_rule(standin_model, rgb, [(3, False)], 0.4, refine=True)
    assert np.array_equal(refined[0].numpy(), expected)
    assert not np.array_equal(plain[0].numpy(), expected)
    assert not refined[0, 300:].any()


@pytest.mark.parametrize("refine", [False, True])
def test_selfie_model_is_the_original_rule_on_a_real_network(nodes, refine):
    """The selfie model tells only person from background: the body-part toggles are the person."""
    batch = np.stack([picture("astronaut.png"), picture("business-person.png")])
    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    (person,) = node.generate_mask(as_image(batch), face_mask=True, refine_mask=refine, confidence=0.5, model="selfie")
    (background,) = node.generate_mask(as_image(batch), face_mask=False, background_mask=True, refine_mask=refine,
                                        confidence=0.5, model="selfie")
    for index, rgb in enumerate(batch):
        expected = original_rule(SELFIE, rgb, [(0, False)], 0.5, refine)
        assert 0.05 < expected.mean() < 0.95
        assert np.array_equal(person[index].numpy(), expected)
        assert np.array_equal(background[index].numpy(), original_rule(SELFIE, rgb, [(0, True)], 0.5, refine))


def test_no_part_chosen_gives_zeros(nodes):
    batch = np.stack([picture("astronaut.png")] * 2)
    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    (masks,) = node.generate_mask(as_image(batch), face_mask=False, model="selfie")
    assert masks.dtype == torch.float32 and tuple(masks.shape) == (2, 512, 512) and not masks.any()


def test_the_model_stays_open_between_runs(nodes):
    from stream_mask.comfyui import nodes as node_module

    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    image = as_image(picture("astronaut.png")[None])
    node.generate_mask(image, model="selfie", refine_mask=False)
    generator = node_module._segmenter("selfie")
    calls = generator._models.calls
    node.generate_mask(image, model="selfie", refine_mask=False)
    assert node_module._segmenter("selfie") is generator and generator._models.calls == calls + 1


def test_a_model_missing_from_comfyuis_folder_is_a_clear_error(nodes, comfy):
    """Only models/mediapipe/ holds models here (no $STREAM_MASK_MODEL_DIR, an empty cache, no network): the
    multiclass model is not there, and the error says which file goes where."""
    node = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]()
    from stream_mask.errors import StreamMaskError

    with pytest.raises(StreamMaskError, match=r"selfie_multiclass_256x256\.tflite .* in .*models/mediapipe"):
        node.generate_mask(as_image(picture("astronaut.png")[None]))


# --- APersonFaceLandmarkMaskGenerator -------------------------------------------------------------


FACE_OFF = {name: False for name in ("face", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "left_pupil",
                                     "right_pupil", "lips")}


def face_mask(nodes, batch: np.ndarray, **settings) -> np.ndarray:
    node = nodes.NODE_CLASS_MAPPINGS["APersonFaceLandmarkMaskGenerator"]()
    (masks,) = node.generate_mask(as_image(batch), **settings)
    assert masks.dtype == torch.float32 and tuple(masks.shape) == batch.shape[:3]
    out = masks.numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    return out


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


@pytest.fixture(scope="module")
def faces_batch() -> np.ndarray:
    return np.stack([picture("astronaut.png"), picture("business-person.png")])


@pytest.fixture(scope="module")
def toggles(nodes, comfy, faces_batch) -> dict[str, np.ndarray]:
    """Each toggle alone on the two shared face pictures (the face landmarker from models/mediapipe/)."""
    shutil.copy(MEDIA.parent / "models" / "face_landmarker.task", comfy / "models" / "mediapipe")
    return {name: face_mask(nodes, faces_batch, **{**FACE_OFF, name: True}) for name in FACE_OFF}


def test_each_toggle_lands_where_it_should(toggles):
    for index in range(2):
        part = {name: masks[index] for name, masks in toggles.items()}
        for name, mask in part.items():
            assert mask.sum() > 10, name
            ys, xs = np.nonzero(mask)
            assert part["face"][ys, xs].mean() > 0.97, name  # inside the face oval
        c = {name: centroid(mask) for name, mask in part.items()}
        for side in ("left", "right"):
            assert c[f"{side}_eyebrow"][1] < c[f"{side}_eye"][1] < c["lips"][1]
            pupil = part[f"{side}_pupil"]
            assert np.count_nonzero(pupil * part[f"{side}_eye"]) > 0.5 * pupil.sum()  # the pupil is in its eye
        # Left and right are the person's own: on an unmirrored picture of a facing person, left is on the right.
        for feature in ("eye", "eyebrow", "pupil"):
            assert c[f"left_{feature}"][0] > c["face"][0] > c[f"right_{feature}"][0], feature


def test_defaults_and_face_alone(nodes, faces_batch, toggles):
    defaults = face_mask(nodes, faces_batch)  # eyes, pupils and lips on
    union = np.maximum.reduce([toggles[name] for name in ("left_eye", "right_eye", "left_pupil", "right_pupil", "lips")])
    assert np.array_equal(defaults, union)
    # face on is the face oval alone: every other toggle is ignored
    assert np.array_equal(face_mask(nodes, faces_batch, **{name: True for name in FACE_OFF}), toggles["face"])


def test_number_of_faces_and_confidence(nodes, comfy):
    with av.open(str(PEOPLE / "head-pose-face-detection-female-and-male.gif")) as container:
        two = next(container.decode(video=0)).to_ndarray(format="rgb24")[None]
    for faces in (1, 2):
        oval = face_mask(nodes, two, **{**FACE_OFF, "face": True}, number_of_faces=faces)[0]
        count, _ = cv2.connectedComponents(oval.astype(np.uint8))
        assert count - 1 == faces
    # confidence is the face detection's: no face is that certain
    assert not face_mask(nodes, two, **{**FACE_OFF, "face": True}, number_of_faces=2, confidence=1.0).any()


def test_no_face_gives_an_empty_mask(nodes, faces_batch):
    """The original crashed on a picture without a face; here its mask is empty, the other images' are not."""
    frame = cv2.cvtColor(cv2.imread(str(MEDIA / "davis_parkour" / "JPEGImages" / "00000.jpg")), cv2.COLOR_BGR2RGB)
    landscape = frame[:, :480]  # the runner is at x 509-599: trees and a wall
    batch = np.stack([landscape, picture("astronaut.png", 480)])
    masks = face_mask(nodes, batch)
    assert not masks[0].any() and masks[1].any()
    assert not face_mask(nodes, faces_batch, **FACE_OFF).any()  # nothing chosen


# --- the install command ------------------------------------------------------------------------------


def test_comfyui_install(tmp_path):
    comfyui = tmp_path / "ComfyUI"
    (comfyui / "custom_nodes").mkdir(parents=True)
    result = run_cli("comfyui-install", str(comfyui))  # the ComfyUI folder is taken too
    assert result.returncode == 0, result.stderr
    loader = comfyui / "custom_nodes" / "stream_mask_nodes.py"
    assert str(loader) in result.stdout and "A Person Mask Generator" in result.stdout
    assert sorted(p.name for p in (comfyui / "custom_nodes").iterdir()) == ["stream_mask_nodes.py"]
    written = loader.read_text()
    again = run_cli("comfyui-install", str(comfyui / "custom_nodes"))  # ours: replaced by the same file
    assert again.returncode == 0 and loader.read_text() == written
    loader.write_text("# someone else's\n")
    refused = run_cli("comfyui-install", str(comfyui / "custom_nodes"))
    assert refused.returncode == 1 and refused.stderr.startswith("stream-mask: error: ")
    assert "not written by stream-mask" in refused.stderr and loader.read_text() == "# someone else's\n"
    missing = run_cli("comfyui-install", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "is not a folder" in missing.stderr


# --- the example workflow in docs/ ------------------------------------------------------------------------


def test_the_example_workflows_match_the_nodes(nodes):
    """docs/comfyui: the UI workflow holds each node's widget values in its inputs' order, the API one (for
    /prompt) names every input; both wire LoadImage -> each node -> MaskToImage -> PreviewImage."""
    import json

    docs = Path(__file__).resolve().parents[1] / "docs" / "comfyui"
    ui = json.loads((docs / "person_masks.json").read_text())
    api = json.loads((docs / "person_masks_api.json").read_text())
    assert sorted(node["type"] for node in ui["nodes"]) == sorted(node["class_type"] for node in api.values()) == sorted(
        ["LoadImage", "APersonMaskGenerator", "APersonFaceLandmarkMaskGenerator", "MaskToImage", "MaskToImage",
         "PreviewImage", "PreviewImage"])
    for name in ("APersonMaskGenerator", "APersonFaceLandmarkMaskGenerator"):  # the still-image workflow's nodes
        cls = nodes.NODE_CLASS_MAPPINGS[name]
        widgets = list(cls.INPUT_TYPES()["optional"])
        (ui_node,) = [node for node in ui["nodes"] if node["type"] == name]
        (api_node,) = [node for node in api.values() if node["class_type"] == name]
        assert len(ui_node["widgets_values"]) == len(widgets)
        assert list(api_node["inputs"]) == ["images", *widgets]
        assert [api_node["inputs"][key] for key in widgets] == ui_node["widgets_values"]
        defaults = [entry[1]["default"] for entry in cls.INPUT_TYPES()["optional"].values()]
        assert ui_node["widgets_values"] == defaults  # the example shows the defaults


# --- the video node -------------------------------------------------------------------------------------------


def clip_frames(count: int) -> np.ndarray:
    """The first frames of the annotated parkour clip (854x480, a fast-moving person), as a uint8 batch."""
    with av.open(str(MEDIA / "davis_parkour" / "parkour_24fps_from_frames.mp4")) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


def flicker(batch: np.ndarray) -> float:
    """The share of pixels that flip between consecutive masks."""
    binary = batch > 0.5
    return float(np.mean(binary[1:] != binary[:-1]))


def test_the_video_node_is_steadier_than_the_per_image_node(nodes):
    """A real clip through both nodes with the selfie model (a real network): the same frame count and size, and the
    video node's masks (VIDEO mode, smoothing, tracked refine: its defaults) flip fewer pixels from frame to frame
    than the per-image node's, while masking about as much of the picture."""
    batch = clip_frames(48)
    per_image = nodes.NODE_CLASS_MAPPINGS["APersonMaskGenerator"]().generate_mask(
        as_image(batch), face_mask=True, model=SELFIE.name)[0].numpy()
    masks, composite = nodes.NODE_CLASS_MAPPINGS["PersonMaskVideo"]().generate_video_masks(
        as_image(batch), 24.0, face_mask=True, model=SELFIE.name)
    masks, composite = masks.numpy(), composite.numpy()
    assert masks.shape == per_image.shape == batch.shape[:3] and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert composite.shape == batch.shape and composite.dtype == np.float32 and 0.0 <= composite.min() <= 1.0
    assert 0.5 < masks.mean() / per_image.mean() < 2.0, "both mask the person"
    assert flicker(masks) < flicker(per_image), (flicker(masks), flicker(per_image))
    # The composite is the frame where the mask is on (the person kept), the effect elsewhere.
    inside = masks > 0.5
    frame_float = batch.astype(np.float32) / 255
    assert np.abs(composite[inside] - frame_float[inside]).mean() < 0.01
    assert np.abs(composite[~inside] - frame_float[~inside]).mean() > 0.01


def test_the_video_node_without_smoothing_or_refine_is_the_plain_video_rule(nodes, standin_model):
    """smooth 0 and refine 0: each frame's mask is the plain rule (`> confidence`) on that frame, parts as toggled
    (the 6-class stand-in, `others` included), whatever the frames before."""
    batch = np.stack([painted(picture("business-person.png", 256))] * 3)
    masks, _ = nodes.NODE_CLASS_MAPPINGS["PersonMaskVideo"]().generate_video_masks(
        as_image(batch), 12.0, face_mask=False, hair_mask=True, others_mask=True, smooth=0.0, refine=0,
        model=STANDIN)
    expected = original_rule(standin_model, batch[0], [(1, False), (5, False)], 0.40, refine=False)
    for mask in masks.numpy():
        assert np.array_equal(mask, expected)


def test_the_video_node_keeps_its_models_open_and_starts_each_clip_afresh(nodes):
    """Two runs of one clip: the same masks (smoothing and tracked crops start again with each batch) from the same
    open model (not reloaded); a run on another clip in between changes neither."""
    from stream_mask.comfyui import nodes as node_module

    node = nodes.NODE_CLASS_MAPPINGS["PersonMaskVideo"]()
    batch = clip_frames(12)
    first = node.generate_video_masks(as_image(batch), 24.0, model=SELFIE.name)[0].numpy()
    opened = [model for key, model in node_module._open.items() if key[0] == "video"]
    assert opened, "the video node keeps its models open"
    node.generate_video_masks(as_image(batch[::-1].copy()), 24.0, model=SELFIE.name)  # another clip
    again = node.generate_video_masks(as_image(batch), 24.0, model=SELFIE.name)[0].numpy()
    assert [model for key, model in node_module._open.items() if key[0] == "video"] == opened  # none reopened
    assert np.array_equal(first, again)


def test_the_video_node_keeps_the_main_subject(nodes):
    """`subjects` is the node's last input (saved workflows load), 0 by default: everyone, the masks of the node
    without it; 1 keeps one of the two people of the head-pose clip in every frame."""
    video = nodes.NODE_CLASS_MAPPINGS["PersonMaskVideo"]
    optional = video.INPUT_TYPES()["optional"]
    assert list(optional)[-1] == "subjects" and optional["subjects"][1]["default"] == 0
    with av.open(str(MEDIA / "people" / "head-pose-face-detection-female-and-male.gif")) as container:
        batch = np.stack([frame.to_ndarray(format="rgb24") for _, frame in zip(range(12), container.decode(video=0))])
    node = video()
    everyone = node.generate_video_masks(as_image(batch), 12.5, model=SELFIE.name, smooth=0.0, refine=0)[0].numpy()
    default = node.generate_video_masks(as_image(batch), 12.5, model=SELFIE.name, smooth=0.0, refine=0,
                                        subjects=0)[0].numpy()
    one = node.generate_video_masks(as_image(batch), 12.5, model=SELFIE.name, smooth=0.0, refine=0,
                                    subjects=1)[0].numpy()
    assert np.array_equal(everyone, default)
    middle = batch.shape[2] // 2
    assert all(mask[:, :middle].any() and mask[:, middle:].any() for mask in everyone > 0.5)
    assert all(mask[:, :middle].any() != mask[:, middle:].any() for mask in one > 0.5)
    assert len({bool(mask[:, middle:].any()) for mask in one > 0.5}) == 1
