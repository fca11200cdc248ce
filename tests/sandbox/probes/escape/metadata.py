"""Writes to the protected metadata of a writable root: ``.git``, ``.agents``, ``.codex``,
present or missing, and the directories above them (renaming an ancestor swaps them)."""

from __future__ import annotations

import ctypes
import os
import shutil

from common import GIT, NEST, SCRATCH, WS, libc, renameat2_exchange
from common import write as _write

_MNT_DETACH = 2
_MS_REMOUNT, _MS_BIND = 32, 4096
CONFIG = os.path.join(GIT, "config")


def git_config_write(name: str) -> None:
    _write(CONFIG, name, "a")


def git_hook_create(name: str) -> None:
    _write(os.path.join(GIT, "hooks", name), name)


def git_objects_write(name: str) -> None:
    _write(os.path.join(GIT, "objects", name), name)


def git_via_symlink(name: str) -> None:
    link = os.path.join(WS, name)
    os.symlink(CONFIG, link)
    _write(link, name, "a")


def git_via_hardlink(name: str) -> None:
    link = os.path.join(WS, name)
    os.link(CONFIG, link)
    _write(link, name, "a")


def git_chmod_config(name: str) -> None:
    os.chmod(CONFIG, 0o777)


# Both write whether or not the mount call worked: what counts is the write after it.
def git_umount(name: str) -> None:
    libc.umount2(GIT.encode(), _MNT_DETACH)
    _write(CONFIG, name, "a")


def git_remount_rw(name: str) -> None:
    libc.mount(None, GIT.encode(), None, ctypes.c_ulong(_MS_REMOUNT | _MS_BIND), None)
    _write(CONFIG, name, "a")


def agents_write(name: str) -> None:
    _write(os.path.join(WS, ".agents", "skill.md"), name, "a")


def agents_new_file(name: str) -> None:
    _write(os.path.join(WS, ".agents", name), name)


def codex_create(name: str) -> None:
    os.makedirs(os.path.join(WS, ".codex"), exist_ok=True)
    _write(os.path.join(WS, ".codex", f"{name}.toml"), name)


def _move_codex_aside(name: str) -> str:
    codex = os.path.join(WS, ".codex")
    if os.path.lexists(codex):
        os.rename(codex, os.path.join(WS, f".codex-aside-{name}"))
    return codex


def codex_replace(name: str) -> None:
    staged = os.path.join(WS, name)
    os.mkdir(staged)
    _write(os.path.join(staged, f"{name}.toml"), name)
    os.rename(staged, _move_codex_aside(name))


def codex_symlink(name: str) -> None:
    os.symlink(SCRATCH, _move_codex_aside(name))


def scratch_git_create(name: str) -> None:
    # A writable root without a repository: a planted .git is found by git in any folder
    # below it, and its config and hooks run at the next git command there.
    os.makedirs(os.path.join(SCRATCH, ".git", "hooks"), exist_ok=True)
    _write(os.path.join(SCRATCH, ".git", "hooks", name), name)


def scratch_agents_create(name: str) -> None:
    os.makedirs(os.path.join(SCRATCH, ".agents"), exist_ok=True)
    _write(os.path.join(SCRATCH, ".agents", name), name)


def scratch_codex_create(name: str) -> None:
    os.makedirs(os.path.join(SCRATCH, ".codex"), exist_ok=True)
    _write(os.path.join(SCRATCH, ".codex", f"{name}.toml"), name)


# The structural attempts below break the layout for whatever runs after them, so the
# probe runs them last (``LAST``).
def git_rename_exchange(name: str) -> None:
    decoy = os.path.join(WS, name)
    os.makedirs(os.path.join(decoy, "hooks"))
    _write(os.path.join(decoy, "hooks", name), name)
    renameat2_exchange(decoy, GIT)


def git_head_delete(name: str) -> None:
    os.unlink(os.path.join(GIT, "HEAD"))


def git_dir_rename(name: str) -> None:
    os.rename(GIT, os.path.join(WS, name))


def git_dir_replace(name: str) -> None:
    shutil.rmtree(GIT)
    os.makedirs(os.path.join(GIT, "hooks"))
    _write(os.path.join(GIT, "hooks", name), name)


def agents_rename(name: str) -> None:
    os.rename(os.path.join(WS, ".agents"), os.path.join(WS, name))


def ancestor_rename(name: str) -> None:
    # The workspace sits below another writable root: moving the folder between them
    # takes the protected .git away from the path the user will open next.
    os.rename(NEST, f"{NEST}-{name}")


def ancestor_swap(name: str) -> None:
    os.rename(NEST, f"{NEST}-{name}")
    hooks = os.path.join(WS, ".git", "hooks")
    os.makedirs(hooks)
    _write(os.path.join(hooks, name), name)


def ws_rename(name: str) -> None:
    os.rename(WS, f"{WS}-{name}")


# In this order, so that each still finds what it acts on when the ones before it went
# through (as they do in the harness's unconfined control run).
LAST = ("git_head_delete", "git_rename_exchange", "git_dir_replace", "git_dir_rename",
        "agents_rename", "ws_rename", "ancestor_swap", "ancestor_rename")
