"""Files replaced whole: a reader sees the old content or the new, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_file(path: str | Path, text: str, *, mode: int | None = None) -> None:
    """Replace `path` with `text` atomically (temp file in the same folder, fsync, rename);
    the folder is created if missing. `mode`: the new file's permissions (else the temp
    file's, 0600). A symlink is followed: the file it points to is replaced, so the link
    someone made (a textfile collector's folder, a mounted volume) keeps working."""
    target = Path(os.path.realpath(Path(path).expanduser()))
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        if mode is not None:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def replace_problem(path: str | Path) -> str | None:
    """Why `replace_file(path)` would fail, or should not be tried, found without touching
    `path`: None when it would succeed. For files written at the end of a run, so that the
    run does not find out then.

    The folder is tried for real (a temporary file created and removed where `replace_file`
    creates its own): permission bits alone do not tell, for root, a read-only mount or a
    folder such as /proc."""
    try:
        return _replace_problem(path)
    except OSError as exc:  # a folder on the way that this user may not even look into
        return f"cannot write {path} ({exc.strerror or exc}): give a path this user can write"


def _replace_problem(path: str | Path) -> str | None:
    given = Path(path).expanduser()
    target = Path(os.path.realpath(given))
    return _existing_problem(path, given, target) or _folder_problem(path, target)


def _existing_problem(path: str | Path, given: Path, target: Path) -> str | None:
    """What is wrong with what is already at `path` (`target`: where its symlink leads)."""
    if given.is_symlink() and not target.exists():
        # Replacing the link itself would put the file where nobody looks for it.
        return (
            f"{path} is a symlink to {target}, which does not exist: create it, or give the "
            "path of a file"
        )
    if target.is_dir():
        return f"{path} is a folder: give a file in it, e.g. {target}/run.json"
    if not target.exists():
        return None
    if not target.is_file():
        # /dev/null, a pipe: `replace_file` would swap it for a regular file.
        return f"{path} is not a regular file: give the path of a file"
    if not os.access(target, os.W_OK):
        # A rename would replace it all the same, but someone made it read-only.
        return f"cannot write {path}: the file is read-only for this user: make it writable"
    return None


def _folder_problem(path: str | Path, target: Path) -> str | None:
    """Whether `replace_file` can create its files where `target` goes, tried for real."""
    folder = next((parent for parent in target.parents if parent.exists()), None)
    if folder is None or not folder.is_dir():
        return f"cannot create {path}: {folder} is not a writable folder"
    try:
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
    except OSError as exc:
        return f"cannot create {path}: {folder} is not a writable folder ({exc.strerror})"
    os.close(descriptor)
    Path(probe).unlink(missing_ok=True)
    return None
