"""Reaching something outside the sandbox over a socket with the network off: the host
listens on each and records what arrives."""

from __future__ import annotations

import array
import ctypes
import mmap
import os
import socket
import struct

from common import CTX, WS, mark, syscall

PORTS = CTX["ports"]
PATHS = CTX["unix"]
assert isinstance(PORTS, dict)
assert isinstance(PATHS, dict)


def _data(name: str) -> bytes:
    return mark(name).encode()


def tcp4_connect(name: str) -> None:
    with socket.create_connection(("127.0.0.1", PORTS["tcp4"]), timeout=2) as s:
        s.sendall(_data(name))


def tcp6_connect(name: str) -> None:
    with socket.create_connection(("::1", PORTS["tcp6"]), timeout=2) as s:
        s.sendall(_data(name))


def udp4_send(name: str) -> None:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(_data(name),
                                                             ("127.0.0.1", PORTS["udp4"]))


def udp4_sendmsg(name: str) -> None:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendmsg(
        [_data(name)], [], 0, ("127.0.0.1", PORTS["udp4"]))


def udp6_send(name: str) -> None:
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(_data(name),
                                                              ("::1", PORTS["udp6"]))


def unix_stream_connect(name: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(PATHS["stream"])
    s.sendall(_data(name))


def unix_seqpacket_connect(name: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(PATHS["seqpacket"])
    s.send(_data(name))


def unix_dgram_sendto(name: str) -> None:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(_data(name), PATHS["dgram"])


def unix_dgram_sendmsg(name: str) -> None:
    # Unconnected: sendmsg names the destination, so connect's refusal never applies.
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendmsg([_data(name)], [], 0,
                                                             PATHS["dgram"])


def unix_dgram_pair_sendmsg(name: str) -> None:
    # A datagram socket of a socketpair still sends to any address it is given.
    first, _second = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    first.sendmsg([_data(name)], [], 0, PATHS["dgram"])


def unix_dgram_scm_rights(name: str) -> None:
    # A descriptor of the sandbox handed to the host: a channel back in.
    fd = os.open(WS, os.O_RDONLY)
    fds = array.array("i", [fd])
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendmsg(
        [_data(name)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)], 0, PATHS["dgram"])


def unix_raw_as_dgram(name: str) -> None:
    # AF_UNIX takes SOCK_RAW as SOCK_DGRAM.
    socket.socket(socket.AF_UNIX, socket.SOCK_RAW).sendto(_data(name), PATHS["dgram"])


def bind_socket_outside(name: str) -> None:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(PATHS[name])


def abstract_stream_connect(name: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + str(PATHS["abstract_stream"]))
    s.sendall(_data(name))


def abstract_dgram_send(name: str) -> None:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(
        _data(name), "\0" + str(PATHS["abstract_dgram"]))


def netlink_route_addr(name: str) -> None:
    # RTM_NEWADDR: give the host's loopback interface one more address.
    rtm_newaddr, ifa_local, ifa_address = 20, 2, 1
    flags = 0x1 | 0x4 | 0x400 | 0x200  # REQUEST | ACK | CREATE | EXCL
    address = socket.inet_aton(str(CTX["netlink_address"]))
    attrs = struct.pack("<HH4s", 8, ifa_local, address) + struct.pack("<HH4s", 8, ifa_address,
                                                                     address)
    body = struct.pack("<BBBBI", socket.AF_INET, 32, 0, 254, socket.if_nametoindex("lo")) + attrs
    header = struct.pack("<IHHII", 16 + len(body), rtm_newaddr, flags, 1, 0)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.sendto(header + body, (0, 0))
    reply = s.recv(4096)
    error = struct.unpack_from("<i", reply, 16)[0]
    if error:
        raise OSError(-error, os.strerror(-error))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def raw_icmp_echo(name: str) -> None:
    payload = _data(name)
    header = struct.pack("!BBHHH", 8, 0, 0, 0x4C4C, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), 0x4C4C, 1) + payload
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).sendto(
        packet, ("127.0.0.1", 0))


def packet_lo_send(name: str) -> None:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("lo", 0))
    frame = b"\0" * 12 + struct.pack("!H", 0x88B5) + _data(name)  # a local experimental type
    s.send(frame)


# io_uring: a second way to make and connect a socket, one the seccomp filter would not
# see call by call (hence io_uring is refused as a whole).
_IORING_OFF_SQ_RING, _IORING_OFF_CQ_RING, _IORING_OFF_SQES = 0, 0x8000000, 0x10000000
_IORING_OP_CONNECT, _IORING_OP_SOCKET = 16, 45
_IORING_ENTER_GETEVENTS = 1


class _SqringOffsets(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in (
        "head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array", "resv1")] + [
        ("user_addr", ctypes.c_uint64)]


class _CqringOffsets(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in (
        "head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags", "resv1")] + [
        ("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in (
        "sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle", "features",
        "wq_fd")] + [("resv", ctypes.c_uint32 * 3), ("sq_off", _SqringOffsets),
                     ("cq_off", _CqringOffsets)]


def _sqe(opcode: int, flags: int, fd: int, off: int, addr: int, length: int,
         file_index: int = 0) -> bytes:
    # struct io_uring_sqe (64 bytes): opcode, flags, ioprio, fd, off, addr, len, op flags,
    # user_data, buf_index, personality, splice_fd_in/file_index, addr3, pad.
    return struct.pack("<BBHiQQIIQHHIQQ", opcode, flags, 0, fd, off, addr, length, 0, 0, 0, 0,
                       file_index, 0, 0)


def io_uring_connect(name: str) -> None:
    params = _Params()
    ring_fd = syscall("io_uring_setup", ctypes.c_uint(4), ctypes.byref(params))
    sq_size = params.sq_off.array + params.sq_entries * 4
    sq = mmap.mmap(ring_fd, sq_size, offset=_IORING_OFF_SQ_RING)
    sqes = mmap.mmap(ring_fd, params.sq_entries * 64, offset=_IORING_OFF_SQES)
    address = (struct.pack("<H", socket.AF_INET) + struct.pack("!H", int(PORTS["io_uring"]))
               + socket.inet_aton("127.0.0.1") + bytes(8))
    address_buffer = ctypes.create_string_buffer(address, len(address))
    # Two rounds through the ring: make the socket, then connect the descriptor it gave.
    sqes[0:64] = _sqe(_IORING_OP_SOCKET, 0, socket.AF_INET, socket.SOCK_STREAM, 0, 0)
    struct.pack_into("<II", sq, params.sq_off.array, 0, 0)
    struct.pack_into("<I", sq, params.sq_off.tail, 1)
    syscall("io_uring_enter", ctypes.c_uint(ring_fd), ctypes.c_uint(1), ctypes.c_uint(1),
            ctypes.c_uint(_IORING_ENTER_GETEVENTS), None, ctypes.c_size_t(0))
    cq = mmap.mmap(ring_fd, params.cq_off.cqes + params.cq_entries * 16,
                   offset=_IORING_OFF_CQ_RING)
    result = struct.unpack_from("<i", cq, params.cq_off.cqes + 8)[0]
    if result < 0:
        raise OSError(-result, os.strerror(-result))
    sqes[0:64] = _sqe(_IORING_OP_CONNECT, 0, result, len(address),
                      ctypes.addressof(address_buffer), 0)
    struct.pack_into("<I", sq, params.sq_off.tail, 2)
    syscall("io_uring_enter", ctypes.c_uint(ring_fd), ctypes.c_uint(1), ctypes.c_uint(1),
            ctypes.c_uint(_IORING_ENTER_GETEVENTS), None, ctypes.c_size_t(0))
    connected = struct.unpack_from("<i", cq, params.cq_off.cqes + 16 + 8)[0]
    if connected < 0:
        raise OSError(-connected, os.strerror(-connected))
    os.write(result, _data(name))
