"""CPU seconds (user + sys) of the same `stream-mask run` on two source trees, alternating; medians and their ratio.

    python benchmarks/cpu_between_trees.py OLD_TREE NEW_TREE [--input CLIP] [--runs 5] [-- run options]

For a restructuring or a speed change: check out the old commit beside this one (`git worktree add --detach
/tmp/old COMMIT`) and compare. CPU time, unlike wall time, hardly moves with what else the machine runs, so the
ratio holds on a busy machine; alternating the runs spreads what noise remains over both trees alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def cpu_seconds(command: list[str], env: dict[str, str], cwd: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--runs", type=int, default=5)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    options = argv[split + 1:] or ["--model", "selfie"]  # the run options after --
    if Path(args.input).exists():
        args.input = str(Path(args.input).resolve())  # the runs start in a temporary folder
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": os.environ.get("STREAM_MASK_MODEL_DIR", str(SHARED / "models"))}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for name, tree in (("old", args.old), ("new", args.new)):
                command = [sys.executable, "-m", "stream_mask.cli", "run", args.input, "-o", f"{tmp}/{name}{run}.mkv",
                           "-q", *options]
                tree_env = {**env, "PYTHONPATH": str(tree.resolve())}
                # `python -m` puts the working folder first on the path: run from the temporary one, and check
                # which stream_mask the tree's run imports, so that each tree runs its own code.
                where = subprocess.run([sys.executable, "-c", "import stream_mask; print(stream_mask.__file__)"],
                                       env=tree_env, cwd=tmp, capture_output=True, text=True).stdout.strip()
                if not Path(where).resolve().is_relative_to(tree.resolve()):
                    sys.exit(f"{tree}: its runs would import {where or 'no stream_mask'}, not the tree's own")
                cpu[name].append(cpu_seconds(command, tree_env, tmp))
    print(f"input: {args.input}, options: {' '.join(options)}, {args.runs} alternating runs, medians")
    for name, values in cpu.items():
        print(f"  {name}: {statistics.median(values):6.2f} s CPU   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  new/old: {statistics.median(cpu['new']) / statistics.median(cpu['old']):.3f}")


if __name__ == "__main__":
    main()
