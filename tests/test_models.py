"""Model registry, lookup and download, against real files and a real local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from stream_mask.errors import StreamMaskError
from stream_mask.models import (
    REGISTRY,
    ModelInfo,
    cache_dir,
    format_model_table,
    model_statuses,
    resolve_model,
)

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
SELFIE = REGISTRY["selfie"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """A private cache and no inherited model settings or proxies, for every test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("STREAM_MASK_MODEL_DIR", raising=False)
    monkeypatch.delenv("STREAM_MASK_MODEL_MIRROR", raising=False)
    for var in ("no_proxy", "NO_PROXY"):  # requests must not send 127.0.0.1 through a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def shared_models() -> Path:
    if not (SHARED_MODELS / SELFIE.filename).is_file():
        pytest.skip(f"official model files not found in {SHARED_MODELS} (../shared/models from the repo)")
    return SHARED_MODELS


@pytest.fixture
def selfie_copy(shared_models, tmp_path) -> callable:
    """Copy the official selfie model into a new directory under tmp_path; returns that directory."""

    def make(name: str) -> Path:
        d = tmp_path / name
        d.mkdir(parents=True)
        shutil.copyfile(shared_models / SELFIE.filename, d / SELFIE.filename)
        return d

    return make


class Server:
    """A real HTTP server on 127.0.0.1 serving a directory and counting GET requests."""

    def __init__(self, root: Path):
        self.root = root
        self.hits: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/models"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves tmp_path/served/models/ and points STREAM_MASK_MODEL_MIRROR at it."""
    root = tmp_path / "served"
    (root / "models").mkdir(parents=True)
    srv = Server(root)
    monkeypatch.setenv("STREAM_MASK_MODEL_MIRROR", srv.url + "/")  # trailing slash must not matter
    yield srv
    srv.close()


def serve_selfie(server: Server, shared_models: Path, corrupt: bool = False) -> None:
    data = bytearray((shared_models / SELFIE.filename).read_bytes())
    if corrupt:
        data[len(data) // 2] ^= 0xFF
    (server.root / "models" / SELFIE.filename).write_bytes(bytes(data))


def cache_files() -> list[Path]:
    d = cache_dir()
    return sorted(d.rglob("*")) if d.exists() else []


# --- download ---------------------------------------------------------------------------------


def test_cache_dir_follows_xdg(tmp_path):
    assert cache_dir() == tmp_path / "xdg-cache" / "stream-mask"


def test_download_from_mirror_into_cache(server, shared_models, capfd, tmp_path):
    serve_selfie(server, shared_models)
    model = resolve_model("selfie")
    assert model.path == cache_dir() / SELFIE.filename
    assert model.path.is_relative_to(tmp_path / "xdg-cache")
    assert sha256(model.path) == SELFIE.sha256 == model.sha256
    assert model.info is SELFIE and model.name == "selfie"
    assert cache_files() == [model.path]  # no temp file left beside it
    assert model.path.stat().st_mode & 0o777 == 0o644  # not pooch's temp-file 0600
    assert server.hits == [f"/models/{SELFIE.filename}"]
    err = capfd.readouterr().err
    assert "250k" in err or "250kB" in err or "%|" in err, err  # tqdm progress bar
    assert f"{server.url}/{SELFIE.filename}" in err  # our one concise line
    assert "Downloading data from" not in err  # pooch's logger is silenced

    again = resolve_model("selfie")
    assert again == model
    assert len(server.hits) == 1  # served from the cache, not downloaded again
    assert capfd.readouterr().err == ""


def test_corrupted_download_leaves_nothing(server, shared_models):
    serve_selfie(server, shared_models, corrupt=True)
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("selfie")
    msg = one_line(exc)
    assert msg.startswith("cannot download the 'selfie' model (sha256 mismatch: the file from ")
    assert SELFIE.sha256 in msg and SELFIE.filename in msg and str(cache_dir()) in msg
    assert cache_files() == []  # neither the bad file nor pooch's temp file


def test_broken_cache_copy_is_replaced_by_verified_download(server, shared_models):
    # The cache is ours, unlike a --model-dir: a bad copy there is re-downloaded.
    serve_selfie(server, shared_models)
    cache_dir().mkdir(parents=True)
    (cache_dir() / SELFIE.filename).write_bytes(b"truncated")
    model = resolve_model("selfie")
    assert sha256(model.path) == SELFIE.sha256
    assert len(server.hits) == 1


def test_server_down(monkeypatch):
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STREAM_MASK_MODEL_MIRROR", f"http://127.0.0.1:{port}")
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("selfie")
    msg = one_line(exc)
    assert msg == (
        f"cannot download the 'selfie' model (no connection to 127.0.0.1:{port}): "
        f"put {SELFIE.filename} (sha256 {SELFIE.sha256}, from {SELFIE.url}) "
        f"in {cache_dir()} or pass --model-dir DIR"
    )
    assert cache_files() == []


def test_http_404_names_url(server, tmp_path):
    model_dir = tmp_path / "mine"
    model_dir.mkdir()
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("multiclass", model_dir=model_dir)
    msg = one_line(exc)
    info = REGISTRY["multiclass"]
    assert f"(HTTP 404 from {server.url}/{info.filename})" in msg
    assert msg.endswith(f"put {info.filename} (sha256 {info.sha256}, from {info.url}) in {model_dir}")
    assert cache_files() == []


def test_no_download_when_disabled(server, shared_models):
    serve_selfie(server, shared_models)
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("selfie", download=False)
    assert one_line(exc).startswith("the 'selfie' model is not downloaded: put selfie_segmenter.tflite")
    assert server.hits == []


# --- lookup -----------------------------------------------------------------------------------


def test_found_in_model_dir(shared_models):
    model = resolve_model("face_landmarker", model_dir=shared_models, download=False)
    assert model.path == shared_models / "face_landmarker.task"
    assert model.sha256 == REGISTRY["face_landmarker"].sha256
    assert model.info.labels == ()


def test_found_in_env_dir(shared_models, monkeypatch):
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(shared_models))
    model = resolve_model("selfie", download=False)
    assert model.path == shared_models / SELFIE.filename
    assert model.info.labels == ("selfie",)


def test_precedence_model_dir_env_cache(selfie_copy, monkeypatch):
    arg_dir, env_dir = selfie_copy("arg"), selfie_copy("env")
    cache_dir().parent.mkdir(parents=True)
    shutil.copytree(selfie_copy("c"), cache_dir())
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(env_dir))
    assert resolve_model("selfie", model_dir=arg_dir).path == arg_dir / SELFIE.filename
    assert resolve_model("selfie").path == env_dir / SELFIE.filename
    monkeypatch.delenv("STREAM_MASK_MODEL_DIR")
    assert resolve_model("selfie").path == cache_dir() / SELFIE.filename


def test_missing_model_dir_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("selfie", model_dir=tmp_path / "nope")
    assert one_line(exc) == f"model directory {tmp_path / 'nope'} (from --model-dir) does not exist or is not a directory"
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(tmp_path / "nope"))
    with pytest.raises(StreamMaskError, match=r"\(from \$STREAM_MASK_MODEL_DIR\)"):
        resolve_model("selfie")


def test_wrong_file_in_model_dir_is_reported_not_deleted(tmp_path, selfie_copy, monkeypatch):
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = bad_dir / SELFIE.filename
    bad.write_bytes(b"not a model")
    # A good copy later in the lookup order must not be used silently instead.
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(selfie_copy("env")))
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("selfie", model_dir=bad_dir)
    assert one_line(exc) == (
        f"model file {bad} has sha256 {hashlib.sha256(b'not a model').hexdigest()}, "
        f"expected {SELFIE.sha256} for the 'selfie' model: replace it with {SELFIE.url} or remove it"
    )
    assert bad.read_bytes() == b"not a model"


def test_official_model_given_by_path_is_recognised(selfie_copy):
    path = selfie_copy("custom") / "my_model.tflite"
    (path.parent / SELFIE.filename).rename(path)
    model = resolve_model(str(path))
    assert (model.name, model.path, model.info, model.sha256) == ("selfie", path, SELFIE, SELFIE.sha256)


def test_custom_path(tmp_path):
    path = tmp_path / "my_model.tflite"
    path.write_bytes(b"some other model")
    model = resolve_model(str(path))
    assert (model.name, model.path, model.info) == ("my_model", path, None)
    assert model.sha256 == hashlib.sha256(b"some other model").hexdigest()


def test_custom_path_errors(tmp_path):
    with pytest.raises(StreamMaskError) as exc:
        resolve_model(str(tmp_path / "missing.tflite"))
    assert one_line(exc) == f"model file {tmp_path / 'missing.tflite'} does not exist"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(StreamMaskError, match=r"is not a \.tflite or \.task file$"):
        resolve_model(str(tmp_path / "notes.txt"))


def test_unknown_name():
    with pytest.raises(StreamMaskError) as exc:
        resolve_model("foo")
    assert one_line(exc) == "unknown model 'foo': use one of multiclass, selfie, face_landmarker or a path to a .tflite file"


# --- registry and status table ----------------------------------------------------------------


def test_registry_facts():
    assert list(REGISTRY) == ["multiclass", "selfie", "face_landmarker"]
    mc = REGISTRY["multiclass"]
    assert mc.labels == ("background", "hair", "body-skin", "face-skin", "clothes", "others")
    assert (mc.size, mc.sha256[:8]) == (16_371_837, "c6748b12")
    for name, info in REGISTRY.items():
        assert isinstance(info, ModelInfo) and info.name == name
        assert info.url.startswith("https://storage.googleapis.com/mediapipe-models/")
        assert info.url.endswith("/" + info.filename)
        assert len(info.sha256) == 64 and "\n" not in info.description
    with pytest.raises(AttributeError):
        mc.size = 1  # frozen


def test_registry_matches_shared_files(shared_models):
    for info in (REGISTRY["selfie"], REGISTRY["face_landmarker"]):
        path = shared_models / info.filename
        assert (path.stat().st_size, sha256(path)) == (info.size, info.sha256)


def test_model_statuses_and_table(tmp_path, selfie_copy):
    model_dir = selfie_copy("mine")
    (model_dir / "face_landmarker.task").write_bytes(b"junk")
    statuses = model_statuses(model_dir)
    by_name = {s.name: s for s in statuses}
    assert [s.name for s in statuses] == list(REGISTRY)
    assert (by_name["selfie"].state, by_name["selfie"].path) == ("verified", model_dir / SELFIE.filename)
    assert (by_name["face_landmarker"].state, by_name["face_landmarker"].source) == ("sha256 mismatch", "model-dir")
    mc = by_name["multiclass"]
    assert (mc.state, mc.path, mc.source) == ("missing", cache_dir() / REGISTRY["multiclass"].filename, "cache")
    assert (model_dir / "face_landmarker.task").read_bytes() == b"junk"  # status never touches files

    table = format_model_table(statuses)
    print(table)
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "SIZE", "DESCRIPTION", "PATH"]
    assert len(lines) == 4
    row = {line.split()[0]: line for line in lines[1:]}
    assert "verified" in row["selfie"] and "250 kB" in row["selfie"] and str(model_dir) in row["selfie"]
    assert "sha256 mismatch" in row["face_landmarker"] and "3.8 MB" in row["face_landmarker"]
    assert "missing" in row["multiclass"] and "16.4 MB" in row["multiclass"]
    assert row["multiclass"].endswith("(would download here)")
    assert REGISTRY["multiclass"].description in row["multiclass"]
    # columns line up: every row's STATE starts where the header's does
    col = lines[0].index("STATE")
    assert all(line[col:].split()[0] in ("verified", "missing", "sha256") for line in lines[1:])
