"""The ComfyUI nodes on the annotated parkour clip: flicker and IoU of the per-image node vs the video node.

    python benchmarks/comfyui_video_node.py        (needs torch: pip install torch==2.13.0; selfie model)

Both nodes get the clip's 100 frames as one IMAGE batch, as a ComfyUI video loader hands them over.
"""

import glob
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from stream_mask.comfyui import nodes  # noqa: E402
from test_comfyui import clip_frames, flicker  # noqa: E402

batch = clip_frames(100)
images = torch.from_numpy(batch.astype(np.float32) / 255)
runs = {
    "per-image node (refine on, its default)": nodes.APersonMaskGenerator().generate_mask(images, model="selfie")[0],
    "per-image node (refine off)": nodes.APersonMaskGenerator().generate_mask(images, refine_mask=False, model="selfie")[0],
    "video node (defaults: refine 1, smooth 0.7)": nodes.PersonMaskVideo().generate_video_masks(images, 24.0, model="selfie")[0],
    "video node (smooth 0, refine 0)": nodes.PersonMaskVideo().generate_video_masks(images, 24.0, model="selfie", smooth=0.0,
                                                                                    refine=0)[0],
}
annotations = sorted(glob.glob(str(ROOT.parent / "shared/media/davis_parkour/Annotations/**/*.png"), recursive=True))
truth = np.stack([cv2.imread(path, cv2.IMREAD_GRAYSCALE) > 0 for path in annotations[:100]])
for name, masks in runs.items():
    binary = masks.numpy() > 0.5
    iou = (binary & truth).sum((1, 2)) / np.maximum((binary | truth).sum((1, 2)), 1)
    print(f"{name}: flicker {flicker(masks.numpy()):.4f}, mean IoU {iou.mean():.3f}, p5 IoU {np.percentile(iou, 5):.3f}")
print(f"annotations: flicker {flicker(truth.astype(np.float32)):.4f}")
