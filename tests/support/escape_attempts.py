"""The escape suite's catalogue: every attempt, the class it belongs to, and how the host
judges it. A judge reads only ``Evidence`` (what changed on the host's side); it says
True when the attempt got through."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass

from support.escape_arena import Evidence

Judge = Callable[[Evidence], bool]

FILES = "files outside the writable roots"
METADATA = "protected metadata (.git, .agents, .codex)"
NETWORK = "network and sockets (network off)"
PROCESSES = "the host's other processes"
KERNEL = "kernel settings and root's powers"
TERMINAL = "terminals"
DESCRIPTORS = "the caller's descriptors"
KEYRINGS = "kernel keyrings"
NAMESPACES = "new namespaces and mounts"
GROUPS = (FILES, METADATA, NETWORK, PROCESSES, KERNEL, TERMINAL, DESCRIPTORS, KEYRINGS,
          NAMESPACES)


@dataclass(frozen=True)
class Attempt:
    name: str
    group: str
    judge: Judge
    # The host makes outside/NAME.txt (``file``) or outside/NAME/ (``dir``) beforehand.
    prepare: str | None = None
    # Programs the attempt runs; without them it is skipped, saying so.
    needs: tuple[str, ...] = ()


def _created(name: str) -> Judge:
    return lambda ev: os.path.lexists(ev.arena.outside / f"{name}.txt")


def _entry(name: str) -> Judge:
    return lambda ev: os.path.lexists(ev.arena.outside / name)


def _changed(name: str) -> Judge:
    return lambda ev: ev.changed(ev.arena.outside / f"{name}.txt")


def _system(folder: str) -> Judge:
    return lambda ev: os.path.lexists(os.path.join(folder, f"llmx-escape-{ev.arena.token}"))


def _leaked(name: str, secret: str) -> Judge:
    """A line the probe printed for this attempt holds a secret it was never told."""
    def judge(ev: Evidence) -> bool:
        value = ev.arena.secrets[secret]
        prefix = f"leak {name}: "
        return any(line.startswith(prefix) and value in line
                   for line in ev.output.decode(errors="replace").splitlines())
    return judge


def _config_marked(name: str) -> Judge:
    return lambda ev: ev.arena.protects_metadata and any(
        ev.holds_mark(p, name) for p in ev.named("config"))


def _undone(name: str) -> Judge:
    """A namespace attempt: it wrote the protected .git/config or its outside file."""
    config = _config_marked(name)
    return lambda ev: config(ev) or _created(name)(ev)


def _named(name: str, parent: str | None = None) -> Judge:
    return lambda ev: bool(ev.named(name, parent))


def _got(listener: str, name: str) -> Judge:
    return lambda ev: ev.got(listener, name)


def _knob(name: str) -> Judge:
    # Set by the attempt: a value found already set (left by another run) proves nothing.
    def judge(ev: Evidence) -> bool:
        wanted = ev.arena.knob_values[name].split()
        return ev.knobs[name].split() == wanted and \
            ev.arena.knobs_before[name].split() != wanted
    return judge


def _signal(number: int) -> Judge:
    return lambda ev: number in ev.holder_signals


def _files() -> list[Attempt]:
    created = ["write_abs_new", "write_relative", "write_dotdot", "rename_out_of_ws",
               "symlink_file_escape", "symlink_dir_escape", "proc_self_root",
               "proc_holder_root", "proc_holder_cwd", "tmpfile_link_outside"]
    changed = ["write_abs_existing", "unlink_outside", "truncate_outside",
               "open_trunc_outside", "chmod_outside", "chown_outside", "utime_outside",
               "setxattr_outside", "rename_into_ws", "rename_exchange", "hardlink_escape",
               "proc_self_fd", "open_by_handle"]
    found = [Attempt(n, FILES, _created(n)) for n in created]
    found += [Attempt(n, FILES, _changed(n), prepare="file") for n in changed]
    found.append(Attempt("proc_holder_fd", FILES, _changed("proc_holder_fd")))
    found += [Attempt(n, FILES, _entry(n)) for n in (
        "mkdir_outside", "mkfifo_outside", "rename_dir_out_of_ws")]
    found += [Attempt(n, FILES, _system(folder)) for n, folder in (
        ("write_etc", "/etc"), ("write_root_dir", "/"), ("write_var_tmp", "/var/tmp"),
        ("write_dev_shm", "/dev/shm"))]
    return found


def _marked_file(name: str) -> Judge:
    return lambda ev: any(ev.holds_mark(p, name) for p in ev.named(name))


def _in_codex(name: str) -> Judge:
    """NAME.toml inside a .codex folder (or one moved aside by a later attempt)."""
    return lambda ev: any(p.parent.name.startswith(".codex") for p in ev.named(f"{name}.toml"))


def _git_head_missing(ev: Evidence) -> bool:
    return not (ev.arena.ws / ".git" / "HEAD").exists()


def _git_config_opened_up(ev: Evidence) -> bool:
    return any(stat.S_IMODE(p.lstat().st_mode) == 0o777 for p in ev.named("config"))


def _codex_link(ev: Evidence) -> bool:
    return any(p.is_symlink() for p in ev.named(".codex"))


def _swapped_git(name: str) -> Judge:
    return lambda ev: any((p / "config").exists() for p in ev.named(name))


def _metadata() -> list[Attempt]:
    found = [Attempt(n, METADATA, _config_marked(n)) for n in (
        "git_config_write", "git_via_symlink", "git_via_hardlink", "git_umount",
        "git_remount_rw")]
    found += [Attempt(n, METADATA, _named(n, "hooks")) for n in (
        "git_hook_create", "scratch_git_create", "git_dir_replace", "ancestor_swap")]
    found += [Attempt(n, METADATA, _marked_file(n)) for n in (
        "agents_new_file", "scratch_agents_create")]
    found += [Attempt(n, METADATA, _in_codex(n)) for n in (
        "codex_create", "codex_replace", "scratch_codex_create")]
    found += [
        Attempt("git_objects_write", METADATA, _named("git_objects_write", "objects")),
        Attempt("git_chmod_config", METADATA, _git_config_opened_up),
        Attempt("agents_write", METADATA,
                lambda ev: any(ev.holds_mark(p, "agents_write") for p in ev.named("skill.md"))),
        Attempt("codex_symlink", METADATA, _codex_link),
        Attempt("git_head_delete", METADATA, _git_head_missing),
        Attempt("git_rename_exchange", METADATA, _swapped_git("git_rename_exchange")),
        Attempt("git_dir_rename", METADATA, _named("git_dir_rename")),
        Attempt("agents_rename", METADATA, _named("agents_rename")),
        Attempt("ws_rename", METADATA, _named("ws-ws_rename")),
        Attempt("ancestor_rename", METADATA, _named("nest-ancestor_rename")),
    ]
    return found


def _scm_rights(ev: Evidence) -> bool:
    mark = ev.mark("unix_dgram_scm_rights").encode()
    return any(mark in data for data in ev.received["dgram_fds"])


def _network() -> list[Attempt]:
    listener_of = {
        "tcp4_connect": "tcp4", "tcp6_connect": "tcp6", "udp4_send": "udp4",
        "udp4_sendmsg": "udp4", "udp6_send": "udp6", "unix_stream_connect": "stream",
        "unix_seqpacket_connect": "seqpacket", "unix_dgram_sendto": "dgram",
        "unix_dgram_sendmsg": "dgram", "unix_dgram_pair_sendmsg": "dgram",
        "unix_raw_as_dgram": "dgram", "abstract_stream_connect": "abstract_stream",
        "abstract_dgram_send": "abstract_dgram", "raw_icmp_echo": "icmp",
        "packet_lo_send": "packet", "io_uring_connect": "io_uring"}
    found = [Attempt(n, NETWORK, _got(listener, n)) for n, listener in listener_of.items()]
    found += [
        Attempt("unix_dgram_scm_rights", NETWORK, _scm_rights),
        Attempt("bind_socket_outside", NETWORK,
                lambda ev: os.path.lexists(ev.arena.listeners.paths["bind_socket_outside"])),
        Attempt("netlink_route_addr", NETWORK,
                lambda ev: f" {ev.arena.netlink_address}/" in ev.loopback, needs=("ip",)),
    ]
    return found


def _processes() -> list[Attempt]:
    found = [Attempt(n, PROCESSES, _leaked(n, secret)) for n, secret in (
        ("ptrace_holder_peek", "holder_mem"), ("process_vm_readv_holder", "holder_mem"),
        ("proc_mem_holder", "holder_mem"), ("proc_environ_holder", "holder_env"),
        ("proc_cmdline_holder", "holder_cmdline"), ("proc_caller_environ", "caller_env"),
        ("init_environ", "caller_env"), ("env_secret", "caller_env"))]
    found += [
        Attempt("signal_holder", PROCESSES, _signal(signal.SIGUSR1)),
        Attempt("pidfd_signal_holder", PROCESSES, _signal(signal.SIGUSR2)),
        Attempt("rt_sigqueue_holder", PROCESSES, _signal(signal.SIGRTMIN + 3)),
        Attempt("kill_victim", PROCESSES, lambda ev: not ev.victim_alive),
        Attempt("pidfd_getfd_holder", PROCESSES, _changed("pidfd_getfd_holder")),
        Attempt("setpriority_holder", PROCESSES,
                lambda ev: ev.holder_nice != ev.arena.holder_nice),
        Attempt("prlimit_holder", PROCESSES, lambda ev: " 4242 " in ev.holder_core_limit),
        Attempt("detach_sleeper", PROCESSES, lambda ev: bool(ev.sleepers)),
    ]
    return found


def _char_device(name: str) -> Judge:
    return lambda ev: any(stat.S_ISCHR(p.lstat().st_mode) for p in ev.named(name))


def _kernel() -> list[Attempt]:
    found = [Attempt(n, KERNEL, _knob(n)) for n in (
        "sysctl_domainname", "sysctl_printk_ratelimit", "sysctl_net_port_range",
        "sysfs_knob_write")]
    found += [
        Attempt("klogctl_console_level", KERNEL,
                lambda ev: ev.knobs["klogctl_console_level"].split()[:1] == ["3"]
                and ev.arena.knobs_before["klogctl_console_level"].split()[:1] != ["3"]),
        Attempt("adjtimex_esterror", KERNEL,
                lambda ev: ev.esterror == 424242 and ev.arena.esterror_before != 424242),
        Attempt("mknod_char_in_ws", KERNEL, _char_device("mknod_char_in_ws")),
        Attempt("kmsg_read", KERNEL, _leaked("kmsg_read", "kmsg")),
        Attempt("syslog_read", KERNEL, _leaked("syslog_read", "kmsg")),
        Attempt("kmsg_write", KERNEL,
                lambda ev: ev.mark("kmsg_write").encode() in ev.kernel_log),
    ]
    return found


def _terminal() -> list[Attempt]:
    def typed(name: str, where: str) -> Judge:
        return lambda ev: ev.mark(name).encode() in getattr(ev, where)
    return [Attempt("tiocsti_stdout", TERMINAL, typed("tiocsti_stdout", "tty_input")),
            Attempt("tiocsti_dev_tty", TERMINAL, typed("tiocsti_dev_tty", "tty_input")),
            Attempt("dev_tty_write", TERMINAL, typed("dev_tty_write", "tty_output")),
            Attempt("tiocsti_other_pty", TERMINAL, typed("tiocsti_other_pty", "other_input")),
            Attempt("write_other_pty", TERMINAL, typed("write_other_pty", "other_output"))]


def _descriptors() -> list[Attempt]:
    return [
        Attempt("inherited_fd_write", DESCRIPTORS, _changed("inherited_fd_write")),
        Attempt("inherited_fd_reopen", DESCRIPTORS, _changed("inherited_fd_reopen")),
        Attempt("inherited_dir_fd", DESCRIPTORS,
                lambda ev: (ev.arena.outside / "dirfd" / "inherited_dir_fd.txt").exists()),
        Attempt("inherited_socket_send", DESCRIPTORS, _got("inherited_socket",
                                                           "inherited_socket_send")),
        Attempt("stdin_reopen_write", DESCRIPTORS, _changed("stdin_reopen_write")),
    ]


def _planted(name: str, where: str) -> Judge:
    return lambda ev: ev.mark(name) in getattr(ev, where).values()


def _keyrings() -> list[Attempt]:
    return [
        Attempt("keyring_read_session", KEYRINGS, _leaked("keyring_read_session",
                                                          "key_session")),
        Attempt("keyring_read_user", KEYRINGS, _leaked("keyring_read_user", "key_user")),
        Attempt("request_key_read", KEYRINGS, _leaked("request_key_read", "key_known")),
        Attempt("proc_keys_leak", KEYRINGS, _leaked("proc_keys_leak", "key_session_desc")),
        Attempt("keyring_plant_session", KEYRINGS, _planted("keyring_plant_session",
                                                            "session_keys")),
        Attempt("keyring_plant_user", KEYRINGS, _planted("keyring_plant_user", "user_keys")),
    ]


def _namespaces() -> list[Attempt]:
    found = [Attempt(n, NAMESPACES, _undone(n)) for n in (
        "unshare_user_remount", "clone_newuser_remount", "clone_high_word_remount",
        "clone3_newuser_remount", "setns_holder_mnt", "open_tree_git")]
    found += [
        Attempt("unshare_cmd_root", NAMESPACES, _undone("unshare_cmd_root"),
                needs=("unshare",)),
        Attempt("bwrap_nested", NAMESPACES, _undone("bwrap_nested"), needs=("bwrap",)),
        Attempt("mount_host_ns", NAMESPACES,
                lambda ev: os.path.ismount(ev.arena.outside / "mount_host_ns"),
                prepare="dir"),
    ]
    return found


ATTEMPTS: tuple[Attempt, ...] = tuple(
    _files() + _metadata() + _network() + _processes() + _kernel() + _terminal()
    + _descriptors() + _keyrings() + _namespaces())
BY_NAME = {attempt.name: attempt for attempt in ATTEMPTS}


def _evidence_is(name: str, expected: Callable[[Evidence], str]) -> Judge:
    def judge(ev: Evidence) -> bool:
        found = ev.named(name, ".results")
        return bool(found) and found[0].read_text().strip() == expected(ev)
    return judge


def _mark_of(name: str) -> Callable[[Evidence], str]:
    return lambda ev: ev.mark(name)


def _first_passwd_line(_ev: Evidence) -> str:
    with open("/etc/passwd") as f:
        return f.readline().strip()


# What a confined command must still be able to do, judged by the evidence it leaves in
# ws/.results (a lying probe could only fail these).
ALLOWED: dict[str, Judge] = {
    "ws_write": _evidence_is("ws_write", _mark_of("ws_write")),
    "scratch_write": lambda ev: ev.holds_mark(ev.arena.scratch / "scratch_write.txt",
                                              "scratch_write"),
    "read_etc": _evidence_is("read_etc", _first_passwd_line),
    "dev_null": _evidence_is("dev_null", lambda ev: "written"),
    "unix_socketpair": _evidence_is("unix_socketpair", _mark_of("unix_socketpair")),
    "seqpacket_pair": _evidence_is("seqpacket_pair", _mark_of("seqpacket_pair")),
    "pty_open": _evidence_is("pty_open", _mark_of("pty_open")),
    "dev_shm_write": _evidence_is("dev_shm_write", _mark_of("dev_shm_write")),
    "threads_work": _evidence_is("threads_work", lambda ev: "0 1 2 3 4 5 6 7"),
    "fork_child": _evidence_is("fork_child", lambda ev: "7"),
    "posix_spawn_child": _evidence_is("posix_spawn_child", lambda ev: "0"),
    "subprocess_child": _evidence_is("subprocess_child", _mark_of("subprocess_child")),
    "bash_background": _evidence_is("bash_background", _mark_of("bash_background")),
    "make_parallel": _evidence_is("make_parallel", lambda ev: "a b c d"),
    "git_log": _evidence_is("git_log", lambda ev: "first"),
    "multiprocessing_pool": _evidence_is("multiprocessing_pool", lambda ev: "0 1 4 9"),
}
ALLOWED_NEEDS = {"bash_background": ("bash",), "make_parallel": ("make",),
                 "git_log": ("git",)}
