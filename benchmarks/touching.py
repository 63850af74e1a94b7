"""How often the people of a clip touch or overlap in the picture, so that --subjects sees them as one region.

    python benchmarks/touching.py [--clips DIR] [--model-dir ../shared/models]

Each clip holds a known number of people (the two-person clips in ../shared/media/people, and the clips of
benchmarks/make_clips.py, made in --clips unless there already). Each frame's person regions are found as
--subjects finds them (selfie model, VIDEO mode, the default threshold, subjects.find_regions); a frame with
fewer regions than people has people merged into one region (or one missed by the model). Printed per clip:
frames, the share of such frames among the connected regions (people touching) and among the regions after
subjects.split has cut them at their bodies, and the mean number of regions after it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2  # (before av: see stream_mask/__init__.py)
import av

from stream_mask.config import DEFAULT_CONFIDENCE
from stream_mask.parts import person_part
from stream_mask.segmenter import Segmenter
from stream_mask.subjects import MIN_REGION_SHARE, find_regions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEOPLE = SHARED / "media/people"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=Path(tempfile.gettempdir()) / "stream_mask_clips")
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_clips import make_clip

    clips = {"CiscoVT2people": (PEOPLE / "CiscoVT2people_320x192_12fps.mp4", 2),
             "head-pose GIF": (PEOPLE / "head-pose-face-detection-female-and-male.gif", 2)}
    for kind, people in (("apart", 2), ("pan", 3), ("bystanders", 3)):
        folder = args.clips / kind
        if not folder.exists():
            make_clip(kind, folder)
        clips[kind] = (folder / f"{kind}.mp4", people)
    print("| clip | people | frames | fewer connected regions than people | fewer after the split | mean regions |")
    print("|---|---|---|---|---|---|")
    for name, (path, people) in clips.items():
        with Segmenter(Path(args.model_dir) / "selfie_segmenter.tflite") as segmenter, av.open(str(path)) as video:
            person = person_part(segmenter.labels)
            connected, counts = [], []
            for index, frame in enumerate(video.decode(video=0)):
                planes = segmenter.segment(frame.to_ndarray(format="rgb24"), index * 40)
                regions, grid = find_regions(person.confidence(planes) > DEFAULT_CONFIDENCE)
                counts.append(len(regions))
                _, _, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
                connected.append(int((stats[1:, cv2.CC_STAT_AREA] >= MIN_REGION_SHARE * grid.size).sum()))
        touching = sum(count < people for count in connected) / len(counts)
        fewer = sum(count < people for count in counts) / len(counts)
        print(f"| {name} | {people} | {len(counts)} | {touching:.0%} | {fewer:.0%} | {sum(counts) / len(counts):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
