"""How an output reaches its name without losing what was there.

- A claim per output name: `.NAME.claim` beside it, holding the run's pid and locked (flock) for as long as the
  run lives. A second run to the same name fails at once instead of racing the first; the claim of a killed
  run holds no lock any more and is taken over.
- Partials: an output is written to `.NAME.PID.partial` (a file or a folder) beside its target and moved into
  place when complete. Whoever holds the claim removes what killed runs left behind.
- Publishing never replaces a name that appeared meanwhile unless --overwrite (a hard link fails if the name
  exists). A PNG folder is replaced as a whole: the old one moved aside, the new one renamed in, the old one
  removed; a failure puts the old one back.
- An output never replaces the input, whatever the flags.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import StreamMaskError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

# A leftover of some run: `.NAME.PID.partial` (being written) or `.NAME.PID.replaced` (an old folder moved aside).
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<what>partial|replaced)")


def reason(error: BaseException) -> str:
    """The words of an OS or FFmpeg error without its file name (messages name the output themselves)."""
    return getattr(error, "strerror", None) or str(error)


@contextlib.contextmanager
def undone_on_failure(undo: Callable[[], None], target: Path | str,
                      errors: tuple[type[BaseException], ...] = (OSError,), doing: str = "write") -> Iterator[None]:
    """Run the block; if it fails, `undo()` first (nothing half-done stays). One of `errors` (a full disk) becomes
    one line, `cannot {doing} {target}: why`; anything else (Ctrl-C, a bug, a StreamMaskError) goes on as it is."""
    try:
        yield
    except errors as error:
        undo()
        raise StreamMaskError(f"cannot {doing} {target}: {reason(error)}") from None
    except BaseException:
        undo()
        raise


def partial_path(target: Path) -> Path:
    """Where `target` is built: hidden, beside it, named for this process so that its owner is known."""
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def _aside_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.replaced")


class Claim:
    """The right of this run to write `target`, held until `release()` (or the process's end, however it ends).

    `leftovers` are further names whose partials the holder may clear (an output's sidecar)."""

    def __init__(self, target: Path, leftovers: Iterable[Path] = ()) -> None:
        self.target = target
        self.path = target.with_name(claim_name(target))
        self._names = (target, *leftovers)
        self._fd: int | None = None
        with undone_on_failure(self.release, target):
            self._take()
            for name in self._names:
                _clear_leftovers(name)

    def _take(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _lock(fd):
                owner = "unknown"
                with contextlib.suppress(OSError):  # Windows: the holder's lock covers what we would read
                    owner = os.read(fd, 32).decode(errors="replace").strip() or owner
                os.close(fd)
                raise StreamMaskError(f"output {self.target} is being written by another run (pid {owner}): "
                                      f"wait for it to finish or choose another name")
            # A run releasing the claim unlinks the file before unlocking it: a lock on an unlinked file is no claim.
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        self._fd = fd
        with contextlib.suppress(OSError):  # the pid is for messages only; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is None:
            return
        # Once more at the end: a run killed just before this one began may not have been gone yet at the start.
        for name in self._names:
            _clear_leftovers(name, keep_own=True)
        fd, self._fd = self._fd, None
        if fcntl is not None:  # unlink while still locked (see _take); Windows cannot unlink an open file
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(fd)
        else:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _lock(fd: int) -> bool:
    """Lock `fd` for this process without waiting; False if another process (or claim) holds it. A filesystem
    without locks (some network shares) gives no protection rather than no output."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            return True
        raise
    return True


def _clear_leftovers(target: Path, keep_own: bool = False) -> None:
    """Remove the partials of `target` that runs now dead left behind (the caller holds its claim), and with
    `keep_own` not this process's. An old folder moved aside by a run killed half-way through a swap is put back if
    the new one never arrived."""
    folder = target.parent
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _LEFTOVER.fullmatch(name)
        if not match or match["name"] != target.name or _alive(int(match["pid"])):
            continue
        if keep_own and int(match["pid"]) == os.getpid():
            continue
        leftover = folder / name
        if match["what"] == "replaced" and not os.path.lexists(target):
            os.rename(leftover, target)
        else:
            _remove(leftover)


def _alive(pid: int) -> bool:
    """Whether another process with this pid runs. Only a hint (pids are reused; a network share's writer runs
    elsewhere): the claim is what keeps two runs apart. Our own pid's leftovers are an earlier run's of ours."""
    if pid == os.getpid() or fcntl is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    try:  # Linux: a killed process that nobody has reaped yet (a zombie) still has its pid, but writes nothing
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def claimed(target: Path, leftovers: Iterable[Path] = ()) -> Iterator[Claim]:
    """Claim `target` for the block; released only if the block fails (on success the sink holds it)."""
    claim = Claim(target, leftovers)
    try:
        yield claim
    except BaseException:
        claim.release()
        raise


def tidy(target: Path, leftovers: Iterable[Path] = ()) -> None:
    """Clear what killed runs left beside a finished `target` (their claim, partials), unless a live run holds it:
    for a run that takes the output as done and so never claims it (a resumed batch)."""
    with contextlib.suppress(StreamMaskError):  # a live run holds the claim: what is there is its own
        Claim(target, leftovers).release()


def refuse_input(target: Path, inputs: Iterable[str], levels: int | None = 0, shown: str | None = None) -> None:
    """Refuse an output that would replace an input file: `target` is that file however it is spelt (links
    included), or a folder holding it: directly (`levels` 1, a pattern's folder) or at any depth (None, a
    folder replaced as a whole). `shown`: the output as the user wrote it."""
    if not os.path.exists(target):
        return
    for name in inputs:
        path = Path(os.path.abspath(name))
        for candidate in [path, *path.parents][:None if levels is None else levels + 1]:
            with contextlib.suppress(OSError):
                if os.path.samefile(candidate, target):
                    what = "is" if candidate == path else "holds"
                    raise StreamMaskError(f"output {shown or target} {what} the input {name}: whatever the flags, "
                                          f"an output never replaces its input; write it elsewhere")


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def publish_file(partial: Path, final: Path, overwrite: bool) -> None:
    """Move a finished partial file into place, with the mode a new file gets (partials may be 0600). Without
    `overwrite` a name that appeared meanwhile is kept and this fails."""
    partial.chmod(_new_file_mode())
    if overwrite:
        os.replace(partial, final)
        return
    try:
        os.link(partial, final)
    except FileExistsError:
        raise StreamMaskError(f"output {final} appeared while this run wrote it: kept it (pass --overwrite "
                              f"to replace it)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        # No hard links here (FAT, some network shares): check, then move (a race remains, but no clobbering
        # of what was there at the check).
        if os.path.lexists(final):
            raise StreamMaskError(f"output {final} appeared while this run wrote it: kept it (pass --overwrite "
                                  f"to replace it)") from None
        os.replace(partial, final)
        return
    partial.unlink()


def publish_folder(partial: Path, final: Path, overwrite: bool) -> None:
    """Put a finished folder in place of `final`: absent, empty, or (`overwrite`) an existing folder replaced as a
    whole: the old one is moved aside, the new one renamed in, then the old one removed; if the new one cannot go
    in, the old one is put back. Without `overwrite` a folder that filled meanwhile is kept and this fails."""
    with contextlib.suppress(OSError):
        shutil.copymode(final, partial)  # a folder shared with a group stays so
    if not overwrite or not os.path.lexists(final):
        try:
            os.rename(partial, final)  # onto nothing or an empty folder: a folder with files in it stays
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise StreamMaskError(f"output {final} filled while this run wrote it: kept it (pass --overwrite to "
                                  f"replace it)") from None
        return
    aside = _aside_path(final)
    os.rename(final, aside)
    try:
        os.rename(partial, final)
    except BaseException:
        os.rename(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def move_files_in(partial: Path, folder: Path, names: list[str], overwrite: bool) -> None:
    """Move `names` from the partial folder into `folder` (a pattern's folder, or one that cannot be swapped);
    without `overwrite` nothing that appeared meanwhile is replaced, and nothing is moved in that case."""
    moved: list[Path] = []
    try:
        for name in names:
            target = folder / name
            if overwrite:
                os.replace(partial / name, target)
            else:
                try:
                    os.link(partial / name, target)
                except FileExistsError:
                    raise StreamMaskError(f"{target} appeared while this run wrote {folder}: kept it (pass "
                                          f"--overwrite to replace it)") from None
                moved.append(target)
    except BaseException:
        for target in moved:  # only files of this run: nothing the user had
            with contextlib.suppress(OSError):
                target.unlink()
        raise
    shutil.rmtree(partial, ignore_errors=True)


def claim_name(target: Path) -> str:
    return f".{target.name}.claim"


def is_leftover(name: str) -> bool:
    """A partial or a folder moved aside, of some run (this one's, or one killed)."""
    return bool(_LEFTOVER.fullmatch(name))
