"""Checkers for lesson 07 · Namespaces, one by one."""
from __future__ import annotations

import ipaddress
import os
import random

from labkit import engine, net, ns
from labkit.check import Result, checker
from labkit.errors import LabError
from labkit.kernel import CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWUTS, unshare

CONTAINER = "lab-07-box"          # the lesson's Docker container, when it runs
HIDDEN_NETNS = "lab-07-x"         # exercise 07.1: a namespace whose address the learner finds
HIDDEN_LINK, HIDDEN_PEER = "lab-07-vx", "lab-07-vy"
HIDDEN_SUBNET = "10.207.1.0/24"
SUBUID_START, SUBUID_COUNT = 100000, 65536     # dockremap's range in /etc/subuid (userns-remap)
ROOTLESS_UID = 1000                             # exercise 07.3: the user whose rootless runtime needs a map,
ROOTLESS_START, ROOTLESS_COUNT = 100000, 65536  # with the line 1000:100000:65536 in /etc/subuid


def _link_texts(pid, other):
    return {os.readlink(f"/proc/{pid}/ns/{k}") for k in ns.KINDS}


WRONG_ANSWERS = {
    "07.1": ["127.0.0.1", "10.207.0.1", "lab-07-x", "10.207.1.0/24", "10.207.1.300"],
    "07.2": ["100000 0 65536", "0 100000 1", "0 100000 65535", "0:100000:65536", "1 100001 65536", 100000,
             "0 100000"],
    "07.3": [
        "0 100000 65536",                        # userns-remap's map: root inside is not the user
        "1 100000 65536",                        # the user's own uid left out: root unmapped
        "0 1000 2\n1 100000 65536",              # an own-uid line one id too long, over inside uid 1
        "0 1000 1\n0 100000 65536",              # both lines claim inside uid 0
        "1000 0 1\n1 100000 65536",              # the user's uid in the inside column: host root outside
        "0 1000 1\n100000 1 65536",              # inside and outside swapped
        "0 1000 1\n1 100000 65537",              # one id past the end of the range
        "0 1000 1\n1 100000 65535",              # one id short: inside uid 65536 unmapped
        "0 1000 1",
        "0:1000:1\n1:100000:65536",
        1000,
    ],
    "07.4": [
        lambda pid, other: set(),
        lambda pid, other: set(ns.KINDS),
        lambda pid, other: set(ns.KINDS) - ns.shared(pid, other),     # the kinds that differ
        _link_texts,
        "net",
    ],
}


# -- 07.1 ---------------------------------------------------------------------------------------

def prepare_07_1() -> str:
    """Make network namespace lab-07-x with a veth pair and an address the learner must find."""
    if _hidden_address() is not None:          # made already: keep its address
        return HIDDEN_NETNS
    net.delete_netns(HIDDEN_NETNS)              # a half-made one from an interrupted run
    hosts = list(ipaddress.ip_network(HIDDEN_SUBNET).hosts())
    address = f"{random.choice(hosts[1:])}/24"
    try:
        net.create_netns(HIDDEN_NETNS)
        net.veth(HIDDEN_LINK, HIDDEN_PEER, netns=HIDDEN_NETNS, peer_netns=HIDDEN_NETNS)
        net.add_address(HIDDEN_LINK, address, netns=HIDDEN_NETNS)
        for link in (HIDDEN_LINK, HIDDEN_PEER):
            net.link_up(link, netns=HIDDEN_NETNS)
    except BaseException:
        net.delete_netns(HIDDEN_NETNS)
        raise
    return HIDDEN_NETNS


def _hidden_address() -> str | None:
    if HIDDEN_NETNS not in net.netns_list():
        return None
    try:
        found = [a.address for a in net.addresses(HIDDEN_NETNS) if a.ifname == HIDDEN_LINK]
    except LabError:
        return None
    return found[0] if found else None


@checker("07.1")
def address_in_netns(answer: object) -> Result:
    """The IPv4 address of lab-07-vx, seen inside network namespace lab-07-x."""
    if not isinstance(answer, str):
        return Result(False, f"Answer with the address as a string, like '10.1.2.3'; you gave {type(answer).__name__}.")
    real = _hidden_address()
    if real is None:
        return Result(False, f"There is no namespace {HIDDEN_NETNS} with an address: run the cell that prepares it "
                             "(prepare_07_1()), then look again.")
    try:
        given = ipaddress.ip_interface(answer.strip()) if "/" in answer else ipaddress.ip_interface(answer.strip() + "/32")
    except ValueError:
        return Result(False, f"{answer!r} is not an IPv4 address. Addresses read like 10.1.2.3 (prefix length optional).")
    want = ipaddress.ip_interface(real)
    if given.ip == want.ip:
        if "/" in answer and given.network.prefixlen != want.network.prefixlen:
            return Result(False, f"Right address, wrong prefix length: the kernel holds /{want.network.prefixlen}.")
        return Result(True, f"Right: inside {HIDDEN_NETNS}, {HIDDEN_LINK} has {real}. Only a process in that namespace "
                            "(or a socket made there) sees it.")
    if given.ip.is_loopback:
        return Result(False, "That is loopback: every network namespace has its own lo with 127.0.0.1. "
                             f"Look for the other interface in {HIDDEN_NETNS}.")
    if given.ip in ipaddress.ip_network("10.207.0.0/24"):
        return Result(False, "That address belongs to the lab-07-a/lab-07-b pair from the lesson, not to "
                             f"{HIDDEN_NETNS}: join {HIDDEN_NETNS} itself.")
    return Result(False, f"No interface in {HIDDEN_NETNS} has {given.ip}. List the addresses from inside the namespace "
                         "(a process that joined it, e.g. running `ip -4 -brief address`).")


# -- 07.2 ---------------------------------------------------------------------------------------

@checker("07.2")
def userns_remap_uid_map(answer: object) -> Result:
    """The uid_map text that maps uids 0-65535 inside to 100000-165535 outside."""
    if not isinstance(answer, str):
        return Result(False, f"A uid_map is text, like '0 1000 1'; you gave {type(answer).__name__} {answer!r}.")
    try:
        ns.parse_id_map(answer)
    except LabError as err:
        return Result(False, f"The kernel would refuse that: {err.what}. Each line is three numbers separated by "
                             "spaces: the first id inside, the first id outside, how many.")
    with ns.hold(flags=CLONE_NEWUSER) as held:
        try:
            ns.write_id_maps(held.pid, answer)
        except LabError as err:
            return Result(False, f"The kernel refused it: {err.why}.")
        ranges = ns.id_maps(held.pid)["uid"]          # what the kernel now holds
    root = _outside(ranges, 0)
    total = sum(r.count for r in ranges)
    if root is None:
        first = ranges[0]
        return Result(False, f"Root is not mapped: your map starts inside at uid {first.inside}. The first number "
                             "of a line is the id *inside* the namespace.")
    if root != SUBUID_START:
        hint = " Did you swap the first two numbers?" if root == 0 else ""
        return Result(False, f"The kernel maps root inside to uid {root} outside, not {SUBUID_START}.{hint}")
    if total < SUBUID_COUNT:
        unmapped = f"uid {total}" if total == SUBUID_COUNT - 1 else f"uids {total} to {SUBUID_COUNT - 1}"
        return Result(False, f"Only {total} of the range's uids are mapped: {unmapped} inside would have no uid outside "
                             f"(such ids show as 65534). The range {SUBUID_START}-{SUBUID_START + SUBUID_COUNT - 1} "
                             f"holds {SUBUID_COUNT} ids.")
    if total > SUBUID_COUNT or _outside(ranges, SUBUID_COUNT - 1) != SUBUID_START + SUBUID_COUNT - 1:
        return Result(False, f"Your map reaches outside the range {SUBUID_START}-{SUBUID_START + SUBUID_COUNT - 1}: "
                             "map exactly that range, no more (it is all that /etc/subuid grants).")
    return Result(True, f"Right: the kernel took it; uid 0 inside is {SUBUID_START} outside and "
                        f"uid {SUBUID_COUNT - 1} is {SUBUID_START + SUBUID_COUNT - 1}, as Docker's userns-remap maps a container.")


def _outside(ranges: list[ns.IdRange], inside: int) -> int | None:
    return next((o for o in (r.to_outside(inside) for r in ranges) if o is not None), None)


# -- 07.3 ---------------------------------------------------------------------------------------

@checker("07.3")
def rootless_uid_map(answer: object) -> Result:
    """The uid_map newuidmap writes for user 1000's rootless runtime, given 1000:100000:65536 in /etc/subuid."""
    if not isinstance(answer, str) or not answer.strip():
        return Result(False, f"A uid_map is text, one line per range, like '0 1000 1'; you gave "
                             f"{type(answer).__name__} {answer!r}.")
    try:
        lines = [ns.parse_id_map(line)[0] for line in answer.splitlines() if line.strip()]
    except LabError as err:
        return Result(False, f"{err.what}. Each line is three numbers separated by spaces: the first id inside, "
                             "the first id outside, how many.")
    refused = newuidmap_refuses(lines, ROOTLESS_UID, ROOTLESS_START, ROOTLESS_COUNT)
    if refused:
        return Result(False, refused)
    try:
        ns.parse_id_map(answer)                  # the kernel's rules for a whole map (user_namespaces(7))
    except LabError as err:
        return Result(False, f"The kernel would refuse that map (EINVAL): {err.what.lower()}, {err.why}. An id may "
                             "appear in one line only, inside and outside.")
    try:
        held = kernel_takes(answer)
    except LabError as err:
        return Result(False, f"The kernel refused it: {err.why}.")
    return rootless_verdict(held, ROOTLESS_UID, ROOTLESS_START, ROOTLESS_COUNT)


def newuidmap_refuses(lines: list[ns.IdRange], uid: int, start: int, count: int) -> str | None:
    """Why newuidmap(1) would not write these lines for `uid` with subordinate ids start..start+count-1, or None.

    Its rule (shadow's newuidmap.c, verify_range): each line maps either the caller's own uid,
    one id, or ids outside that all lie in one of the caller's /etc/subuid ranges.
    """
    last = start + count - 1
    for line in lines:
        if (line.outside == uid and line.count == 1) or (start <= line.outside and line.outside + line.count - 1 <= last):
            continue
        span = f"{line.outside}-{line.outside + line.count - 1}" if line.count > 1 else f"{line.outside}"
        why = (f"newuidmap refuses the line '{line}': outside, it maps {span}, which is neither your own uid "
               f"{uid} (one id) nor within your range {start}-{last} from /etc/subuid.")
        if line.outside == uid:
            hint = "Your own uid is one id: its line has count 1."
        elif line.outside <= 0 < line.outside + line.count:
            hint = "Outside uid 0 is the host's root. The middle number is the id outside."
        elif start <= line.outside <= last:
            hint = f"It runs past the end of the range: {count} ids from {start} end at {last}."
        elif start <= line.inside <= last or line.inside == uid:
            hint = "The first number is the id inside, the second the id outside: did you swap them?"
        else:
            hint = "The middle number of each line is an id outside, on the host."
        return f"{why} {hint}"
    return None


def kernel_takes(uid_map: str) -> list[ns.IdRange]:
    """Write `uid_map` as newuidmap does, from outside, for a process of user ROOTLESS_UID that made a user
    namespace of its own; return the map the kernel then holds."""
    with ns.hold(_rootless_runtime, ROOTLESS_UID) as runtime:
        ns.write_id_maps(runtime.pid, uid_map)
        return ns.id_maps(runtime.pid)["uid"]


def _rootless_runtime(uid: int) -> None:
    ns.become_user(uid)             # an ordinary user, as a rootless runtime is...
    unshare(CLONE_NEWUSER)          # ...makes a user namespace; newuidmap writes its map from outside


def rootless_verdict(held: list[ns.IdRange], uid: int, start: int, count: int) -> Result:
    """Judge the map the kernel holds: root inside is `uid`, and inside uids 1..count have ids outside."""
    root = _outside(held, 0)
    if root is None:
        return Result(False, f"Root inside is not mapped: no line starts at inside id 0. In a rootless container "
                             f"root is you: map inside uid 0 to your own uid {uid}.")
    if root != uid:
        return Result(False, f"newuidmap would write that, but root inside is then uid {root} outside, not you: "
                             f"that is userns-remap's shape (07.2), for a daemon that is root. Rootless, your own "
                             f"files (uid {uid}) must be root's inside: map inside 0 to {uid}, and your range to "
                             "the ids from 1 on.")
    covered = _covered(held, 1, count)
    if covered == 0:
        return Result(False, f"Only root is mapped. An image's files belong to other users too, and a process inside "
                             f"can only be, or chown to, a mapped uid: give inside uids 1 to {count} your "
                             f"{count} subordinate ids.")
    if covered < count:
        return Result(False, f"{count - covered} of inside uids 1 to {count} have no id outside, so nothing inside "
                             f"can ever be them: your range gives exactly {count} ids. Map them all, from inside "
                             "uid 1 on.")
    return Result(True, f"Right: the kernel took it as newuidmap would write it. Root inside is you (uid {uid}), "
                        f"and inside uids 1 to {count} are your subordinate ids {start} to {start + count - 1}: "
                        "a container's files may belong to any of its users, and none of them is anyone else's uid.")


def _covered(ranges: list[ns.IdRange], first: int, last: int) -> int:
    """How many inside ids from `first` to `last` the ranges map (they never overlap)."""
    return sum(max(0, min(r.inside + r.count - 1, last) - max(r.inside, first) + 1) for r in ranges)


# -- 07.4 ---------------------------------------------------------------------------------------

@checker("07.4")
def shared_kinds(answer: object) -> Result:
    """A function (pid, other) -> the set of namespace kinds the two processes share."""
    if not callable(answer):
        return Result(False, f"Answer with a function of two pids, like `def shared_kinds(pid, other): ...`; "
                             f"you gave {type(answer).__name__} {answer!r}.")
    me = os.getpid()
    with ns.hold(flags=CLONE_NEWUTS | CLONE_NEWIPC) as a, ns.hold(flags=CLONE_NEWNET | CLONE_NEWNS) as b:
        cases = [(me, me, "this process with itself"), (a.pid, me, "a process in new uts and ipc namespaces"),
                 (b.pid, me, "a process in new net and mnt namespaces"), (a.pid, b.pid, "those two processes")]
        box = engine.container_pid(CONTAINER, timeout=30)
        if box:
            cases.append((box, me, f"the container {CONTAINER}'s process"))
        for pid, other, who in cases:
            want = ns.shared(pid, other)
            try:
                got = answer(pid, other)
            except Exception as err:      # the learner's code: any failure is feedback
                return Result(False, f"Your function raised {type(err).__name__}: {err} for {who}.")
            verdict = _compare_kinds(got, want, who)
            if verdict is not None:
                return verdict
    return Result(True, f"Right for {len(cases)} pairs of processes: two processes share a namespace exactly when "
                        "their /proc/PID/ns links name the same inode.")


def _compare_kinds(got: object, want: set[str], who: str) -> Result | None:
    if isinstance(got, str) or not isinstance(got, (set, frozenset, list, tuple)):
        return Result(False, f"Return a set of kind names like {{'user', 'time'}}; for {who} you returned {got!r}.")
    got = set(got)
    if any(isinstance(k, str) and ":[" in k for k in got):
        return Result(False, "Return the kinds ('net'), not the link texts ('net:[4026531840]'): "
                             "compare the links, then keep the name before the colon.")
    if got and got == set(ns.KINDS) - want:
        return Result(False, f"For {who} you returned the kinds that *differ*; the exercise asks for the ones "
                             "they share (equal inodes).")
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"not shared: {', '.join(extra)}"] if extra else [])
        return Result(False, f"For {who}: {'; '.join(parts)}. Compare /proc/PID/ns/KIND of both for every kind "
                             f"({', '.join(ns.KINDS)}).")
    return None
