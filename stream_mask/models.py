"""The official MediaPipe models: registry, lookup on disk, verified download.

Lookup order for a registry name: the ``model_dir`` argument (``--model-dir``), then
``$STREAM_MASK_MODEL_DIR``, then the user cache (``pooch.os_cache("stream-mask")``, which
honours ``XDG_CACHE_HOME`` on Linux). A file found there is always checked against the
registry sha256, so a truncated or different file never reaches MediaPipe. If the file is
nowhere, it is downloaded into the cache with pooch (temp file, hash check, atomic move).
``$STREAM_MASK_MODEL_MIRROR`` replaces the official URL with ``{mirror}/{filename}``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import StreamMaskError
from .runtime import FACE_LANDMARKER, RUNTIMES, SEGMENTER

MODEL_DIR_ENV = "STREAM_MASK_MODEL_DIR"
MIRROR_ENV = "STREAM_MASK_MODEL_MIRROR"

VERIFIED = "verified"
MISSING = "missing"
MISMATCH = "sha256 mismatch"



@dataclass(frozen=True)
class ModelInfo:
    """Facts about one official model file."""

    name: str
    kind: str  # SEGMENTER or FACE_LANDMARKER
    filename: str
    url: str
    sha256: str
    size: int  # bytes
    labels: tuple[str, ...]  # output categories, in channel order; () if not a segmenter
    description: str  # one line
    licence: str


_BASE = "https://storage.googleapis.com/mediapipe-models"

REGISTRY: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            name="multiclass",
            kind=SEGMENTER,
            filename="selfie_multiclass_256x256.tflite",
            url=f"{_BASE}/image_segmenter/selfie_multiclass_256x256/float32/latest/"
            "selfie_multiclass_256x256.tflite",
            sha256="c6748b1253a99067ef71f7e26ca71096cd449baefa8f101900ea23016507e0e0",
            size=16_371_837,
            labels=("background", "hair", "body-skin", "face-skin", "clothes", "others"),
            description="6-class segmenter: background, hair, body-skin, face-skin, clothes, others",
            licence="Apache-2.0",
        ),
        ModelInfo(
            name="selfie",
            kind=SEGMENTER,
            filename="selfie_segmenter.tflite",
            url=f"{_BASE}/image_segmenter/selfie_segmenter/float16/latest/selfie_segmenter.tflite",
            sha256="191ac9529ae506ee0beefa6b2c945a172dab9d07d1e802a290a4e4038226658b",
            size=249_537,
            labels=("selfie",),
            description="binary person segmenter (person probability)",
            licence="Apache-2.0",
        ),
        ModelInfo(
            name="face_landmarker",
            kind=FACE_LANDMARKER,
            filename="face_landmarker.task",
            url=f"{_BASE}/face_landmarker/face_landmarker/float16/latest/face_landmarker.task",
            sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            size=3_758_596,
            labels=(),
            description="face detector + 478-point face mesh (incl. irises), blendshapes",
            licence="Apache-2.0",
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model file on disk, ready to hand to MediaPipe."""

    name: str  # registry name, or the file stem for a custom path
    path: Path
    info: ModelInfo | None  # None for a custom file that is not an official model
    sha256: str


@dataclass(frozen=True)
class ModelStatus:
    """Where a registry model is (or would be downloaded to) and whether it checks out."""

    info: ModelInfo
    state: str  # VERIFIED, MISSING or MISMATCH
    path: Path  # the file found, or the cache path it would be downloaded to
    source: str  # 'model-dir', 'STREAM_MASK_MODEL_DIR' or 'cache'

    @property
    def name(self) -> str:
        return self.info.name


def cache_dir() -> Path:
    """The user cache directory for models; read at call time so XDG_CACHE_HOME changes apply."""
    import pooch  # here, not at the top: --help does not load pooch (0.1 s)
    return Path(pooch.os_cache("stream-mask")).expanduser()


def _search_dirs(model_dir: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """(source, directory) in lookup order. A named directory that doesn't exist is
    an error rather than skipped: it is almost always a typo."""
    dirs = []
    env_dir = os.environ.get(MODEL_DIR_ENV, "")
    for source, d in (("model-dir", model_dir), (MODEL_DIR_ENV, env_dir)):
        if d is None or str(d) == "":
            continue
        path = Path(d).expanduser()
        if not path.is_dir():
            what = "--model-dir" if source == "model-dir" else f"${MODEL_DIR_ENV}"
            raise StreamMaskError(f"model directory {path} (from {what}) does not exist or is not a directory")
        dirs.append((source, path))
    dirs.append(("cache", cache_dir()))
    return dirs


def _find(info: ModelInfo, model_dir: str | os.PathLike | None) -> ModelStatus:
    """The first file named info.filename in lookup order, verified; else MISSING at the cache path.

    The first file found wins even if it is wrong: silently falling through to another
    copy would hide the user's broken file."""
    import pooch
    for source, d in _search_dirs(model_dir):
        path = d / info.filename
        if path.is_file():
            state = VERIFIED if pooch.file_hash(path, alg="sha256") == info.sha256 else MISMATCH
            return ModelStatus(info, state, path, source)
    return ModelStatus(info, MISSING, cache_dir() / info.filename, "cache")


def _put_hint(info: ModelInfo, model_dir: str | os.PathLike | None) -> str:
    """Tell the user exactly which file to put where (the official URL, not the mirror)."""
    what = f"put {info.filename} (sha256 {info.sha256}, from {info.url})"
    if model_dir is not None and str(model_dir) != "":
        return f"{what} in {Path(model_dir).expanduser()}"
    env_dir = os.environ.get(MODEL_DIR_ENV, "")
    if env_dir:  # where the user keeps models: the first place looked in
        return f"{what} in {Path(env_dir).expanduser()} (${MODEL_DIR_ENV}), in {cache_dir()} or pass --model-dir DIR"
    return f"{what} in {cache_dir()} or pass --model-dir DIR"


def _mismatch_error(info: ModelInfo, path: Path) -> StreamMaskError:
    import pooch
    return StreamMaskError(
        f"model file {path} has sha256 {pooch.file_hash(path, alg='sha256')}, expected {info.sha256} "
        f"for the '{info.name}' model: replace it with {info.url} or remove it"
    )


def _download_url(info: ModelInfo) -> str:
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{info.filename}" if mirror else info.url


def _download_reason(exc: BaseException, url: str) -> str:
    """A short, one-line reason; requests' own messages are long and nested."""
    import requests  # pooch depends on it; imported late like pooch does

    host = urlsplit(url).netloc or url
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} from {url}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"timed out talking to {host}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"no connection to {host}"
    if isinstance(exc, ValueError):  # pooch's hash check; the temp file is already deleted
        got = re.search(r"but got ([0-9a-f]{64})", str(exc))
        return f"sha256 mismatch: the file from {url} has sha256 {got.group(1) if got else 'unknown'}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _announced_download(info: ModelInfo, dest: Path) -> Callable[[str, Any, Any], None]:
    """pooch's download step with a progress bar, announced only once the server has answered: offline,
    the user sees the one-line error and nothing else."""
    from tqdm import tqdm

    def download(url: str, output_file: Any, _pooch: Any) -> None:
        import requests

        with requests.get(url, stream=True, timeout=30) as response:
            response.raise_for_status()
            print(f"stream-mask: downloading the '{info.name}' model ({_fmt_size(info.size)}) from {url} to {dest}",
                  file=sys.stderr, flush=True)
            total = int(response.headers.get("content-length", 0)) or None
            out = open(output_file, "wb") if isinstance(output_file, (str, os.PathLike)) else output_file
            try:
                with tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, leave=False) as bar:
                    for chunk in response.iter_content(1 << 16):
                        out.write(chunk)
                        bar.update(len(chunk))
            finally:
                if out is not output_file:
                    out.close()

    return download


def _download(info: ModelInfo, model_dir: str | os.PathLike | None) -> Path:
    """Download into the cache; pooch writes a temp file in the cache dir, checks the
    sha256 and only then moves it into place (it deletes the temp file on any failure)."""
    import pooch
    import requests

    url = _download_url(info)
    dest = cache_dir()
    # pooch.get_logger() is a private logging.Logger("pooch"), not logging.getLogger("pooch"):
    # only this handle silences its "Downloading data from ..." line.
    pooch.get_logger().setLevel(logging.WARNING)
    try:
        got = pooch.retrieve(url, known_hash=f"sha256:{info.sha256}", fname=info.filename, path=dest,
                             downloader=_announced_download(info, dest))
    except (requests.exceptions.RequestException, ValueError, OSError) as exc:
        raise StreamMaskError(
            f"cannot download the '{info.name}' model ({_download_reason(exc, url)}): {_put_hint(info, model_dir)}"
        ) from exc
    path = Path(got)
    # pooch moves its NamedTemporaryFile into place, so the model would keep mode 0600.
    path.chmod(0o644)
    return path


def resolve_model(
    spec: str, model_dir: str | os.PathLike | None = None, download: bool = True
) -> ResolvedModel:
    """Turn a registry name or a .tflite/.task path into a verified file on disk.

    Registry names take precedence over a same-named file in the working directory."""
    info = REGISTRY.get(spec)
    if info is None:
        return _resolve_path(spec)
    status = _find(info, model_dir)
    if status.state == VERIFIED:
        return ResolvedModel(info.name, status.path, info, info.sha256)
    if status.state == MISMATCH and status.source != "cache":
        # The user's own file: report it, never delete or overwrite it.
        raise _mismatch_error(info, status.path)
    # Missing, or a broken cache copy (ours, so pooch may replace it after a verified download).
    if not download:
        if status.state == MISMATCH:
            raise _mismatch_error(info, status.path)
        raise StreamMaskError(f"the '{info.name}' model is not downloaded: {_put_hint(info, model_dir)}")
    path = _download(info, model_dir)
    return ResolvedModel(info.name, path, info, info.sha256)


def model_suffixes() -> tuple[str, ...]:
    """The model file types some runtime opens (runtime.RUNTIMES), in registration order."""
    return tuple(dict.fromkeys(suffix for _, suffix in RUNTIMES))


def _resolve_path(spec: str) -> ResolvedModel:
    import pooch
    path = Path(spec).expanduser()
    suffixes = model_suffixes()
    looks_like_path = path.suffix in suffixes or "/" in spec or os.sep in spec
    if not looks_like_path and not path.exists():
        raise StreamMaskError(
            f"unknown model '{spec}': use one of {', '.join(REGISTRY)} or a path to a .tflite file"
        )
    if not path.exists():
        raise StreamMaskError(f"model file {path} does not exist")
    if not path.is_file():
        raise StreamMaskError(f"model path {path} is not a file")
    if path.suffix not in suffixes:
        raise StreamMaskError(f"model file {path} is not a {' or '.join(suffixes)} file")
    sha256 = pooch.file_hash(path, alg="sha256")
    # An official model given by path is still that model (same labels, same part names).
    info = next((known for known in REGISTRY.values() if known.sha256 == sha256), None)
    return ResolvedModel(info.name if info else path.stem, path, info, sha256)


def model_statuses(model_dir: str | os.PathLike | None = None) -> list[ModelStatus]:
    """Status of every registry model, in registry order, using the same lookup as resolve_model."""
    return [_find(info, model_dir) for info in REGISTRY.values()]


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def format_model_table(statuses: list[ModelStatus]) -> str:
    """A plain-text table for ``stream-mask models``; path last since it is the longest."""
    header = ("NAME", "STATE", "SIZE", "DESCRIPTION", "PATH")
    rows = [
        (s.name, s.state, _fmt_size(s.info.size), s.info.description,
         str(s.path) + (" (would download here)" if s.state == MISSING else ""))
        for s in statuses
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in [header, *rows]]
    return "\n".join(lines)
