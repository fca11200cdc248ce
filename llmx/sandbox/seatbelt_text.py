"""Fixed sections of the macOS Seatbelt (SBPL) profile.

The rules are the ones Codex's Seatbelt profile grants (themselves derived from Chrome's
renderer sandbox); the text is ours. Closed by default: everything not allowed below or
by the generated read, write and network sections is refused by the kernel.
"""

from __future__ import annotations

BASE_POLICY = """\
(version 1)

; Refuse everything that is not allowed below.
(deny default)

; The Docker control socket and CLI would let a confined command start an unconfined
; container, so they are closed explicitly even where reads are otherwise open.
(deny process-exec
  (literal "/usr/bin/docker")
  (literal "/usr/local/bin/docker")
  (literal "/usr/local/bin/com.docker.cli")
  (literal "/opt/homebrew/bin/docker")
  (literal "/opt/homebrew/bin/com.docker.cli")
  (subpath "/usr/local/Cellar/docker")
  (subpath "/opt/homebrew/Cellar/docker")
  (subpath "/Applications/Docker.app/Contents/MacOS")
  (literal "/Applications/Docker.app/Contents/Resources/bin/docker")
  (literal "/Applications/Docker.app/Contents/Resources/bin/com.docker.cli"))
(deny file-read* file-write*
  (literal "/var/run/docker.sock")
  (literal "/var/run/docker.sock.raw")
  (literal "/private/var/run/docker.sock")
  (literal "/private/var/run/docker.sock.raw")
  (subpath "/var/run/docker")
  (subpath "/private/var/run/docker")
  (subpath "/Users/Shared/.docker")
  (regex #"^/Users/[^/]+/\\.docker/run/"))
(deny network-outbound
  (remote unix-socket (literal "/var/run/docker.sock"))
  (remote unix-socket (literal "/var/run/docker.sock.raw"))
  (remote unix-socket (literal "/private/var/run/docker.sock"))
  (remote unix-socket (literal "/private/var/run/docker.sock.raw"))
  (remote unix-socket (subpath "/var/run/docker"))
  (remote unix-socket (subpath "/private/var/run/docker"))
  (remote unix-socket (subpath "/Users/Shared/.docker"))
  (remote unix-socket (regex #"^/Users/[^/]+/\\.docker/run/")))
(deny mach-lookup (xpc-service-name-prefix "com.docker."))
(deny ipc-posix-shm-read* ipc-posix-shm-write* (ipc-posix-name-prefix "docker"))

; Children run under the same profile; they may signal and inspect each other only.
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))

; Writing to /dev/null is always harmless.
(allow file-write-data
  (require-all (path "/dev/null") (vnode-type CHARACTER-DEVICE)))

; Hardware and kernel facts that runtimes (Python, Java, Node, compilers) query at start.
(allow sysctl-read
  (sysctl-name "hw.activecpu")
  (sysctl-name "hw.busfrequency_compat")
  (sysctl-name "hw.byteorder")
  (sysctl-name "hw.cacheconfig")
  (sysctl-name "hw.cachelinesize_compat")
  (sysctl-name "hw.cpufamily")
  (sysctl-name "hw.cpufrequency")
  (sysctl-name "hw.cpufrequency_compat")
  (sysctl-name "hw.cputype")
  (sysctl-name "hw.l1dcachesize_compat")
  (sysctl-name "hw.l1icachesize_compat")
  (sysctl-name "hw.l2cachesize_compat")
  (sysctl-name "hw.l3cachesize_compat")
  (sysctl-name "hw.logicalcpu")
  (sysctl-name "hw.logicalcpu_max")
  (sysctl-name "hw.machine")
  (sysctl-name "hw.memsize")
  (sysctl-name "hw.model")
  (sysctl-name "hw.ncpu")
  (sysctl-name "hw.nperflevels")
  (sysctl-name "hw.packages")
  (sysctl-name "hw.pagesize")
  (sysctl-name "hw.pagesize_compat")
  (sysctl-name "hw.physicalcpu")
  (sysctl-name "hw.physicalcpu_max")
  (sysctl-name "hw.tbfrequency_compat")
  (sysctl-name "hw.vectorunit")
  (sysctl-name "machdep.cpu.brand_string")
  (sysctl-name "kern.argmax")
  (sysctl-name "kern.hostname")
  (sysctl-name "kern.maxfilesperproc")
  (sysctl-name "kern.maxproc")
  (sysctl-name "kern.osproductversion")
  (sysctl-name "kern.osrelease")
  (sysctl-name "kern.ostype")
  (sysctl-name "kern.osvariant_status")
  (sysctl-name "kern.osversion")
  (sysctl-name "kern.secure_kernel")
  (sysctl-name "kern.usrstack64")
  (sysctl-name "kern.version")
  (sysctl-name "sysctl.proc_cputype")
  (sysctl-name "vm.loadavg")
  (sysctl-name-prefix "hw.optional.arm.")
  (sysctl-name-prefix "hw.optional.armv8_")
  (sysctl-name-prefix "hw.perflevel")
  (sysctl-name-prefix "kern.proc.pgrp.")
  (sysctl-name-prefix "kern.proc.pid.")
  (sysctl-name-prefix "net.routetable."))
; Java reads its CPU type through a call the kernel counts as a write.
(allow sysctl-write (sysctl-name "kern.grade_cputype"))

(allow iokit-open (iokit-registry-entry-class "RootDomainUserClient"))
; User and group lookups (getpwuid and friends).
(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))
(allow mach-lookup (global-name "com.apple.PowerManagement.control"))

; POSIX semaphores (Python multiprocessing) and the OpenMP runtime registry (libomp).
(allow ipc-posix-sem)
(allow ipc-posix-shm-read-data ipc-posix-shm-write-create ipc-posix-shm-write-unlink
  (ipc-posix-name-regex #"^/__KMP_REGISTERED_LIB_[0-9]+$"))

; Pseudo-terminals: new ones, and ones opened before the profile applied (ioctl only).
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))
(allow file-read* file-write*
  (require-all (regex #"^/dev/ttys[0-9]+") (extension "com.apple.sandbox.pty")))
(allow file-ioctl (regex #"^/dev/ttys[0-9]+"))

; Reading user preferences.
(allow ipc-posix-shm-read* (ipc-posix-name-prefix "apple.cfprefs."))
(allow mach-lookup
  (global-name "com.apple.cfprefsd.daemon")
  (global-name "com.apple.cfprefsd.agent")
  (local-name "com.apple.cfprefsd.agent"))
(allow user-preference-read)
"""

NETWORK_POLICY = """\
; With the network enabled: the platform services that name resolution and TLS need.
(allow system-socket (require-all (socket-domain AF_SYSTEM) (socket-protocol 2)))
(allow mach-lookup
  (global-name "com.apple.bsd.dirhelper")
  (global-name "com.apple.system.opendirectoryd.membership")
  (global-name "com.apple.SecurityServer")
  (global-name "com.apple.networkd")
  (global-name "com.apple.ocspd")
  (global-name "com.apple.trustd.agent")
  (global-name "com.apple.SystemConfiguration.DNSConfiguration")
  (global-name "com.apple.SystemConfiguration.configd"))
(allow sysctl-read (sysctl-name-regex #"^net.routetable"))
"""

PLATFORM_READ_DEFAULTS = """\
; The minimal platform a process needs when reads are restricted (the :minimal token).
(allow file-read* file-test-existence
  (subpath "/usr/lib")
  (subpath "/usr/share")
  (subpath "/usr/bin")
  (subpath "/usr/sbin")
  (subpath "/usr/libexec")
  (subpath "/bin")
  (subpath "/sbin")
  (subpath "/etc")
  (subpath "/private/etc")
  (subpath "/Library/Preferences")
  (subpath "/opt/homebrew/lib")
  (subpath "/usr/local/lib")
  (subpath "/Applications"))
(allow file-map-executable
  (subpath "/usr/lib")
  (subpath "/System/Library/Frameworks")
  (subpath "/System/Library/PrivateFrameworks"))
(allow file-read*
  (subpath "/System/Library/Frameworks")
  (subpath "/System/Library/PrivateFrameworks"))
(allow file-read* file-write*
  (literal "/dev/null")
  (literal "/dev/zero")
  (literal "/dev/random")
  (literal "/dev/urandom")
  (regex #"^/dev/tty")
  (subpath "/tmp")
  (subpath "/private/tmp")
  (subpath "/var/tmp")
  (subpath "/private/var/tmp"))
"""
