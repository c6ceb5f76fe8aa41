"""The tree of a code archive and the checks on its shape: clashing names and links.

An archive's members (``Member``: a file, a directory or a symbolic link, with its
normalised path) are placed in a tree of ``Node``s, one look-up per name component.
``check_layout`` refuses a path that is both a directory and a file or link, and a link
that resolves, through the archive's other links, outside the archive root. Both the
upload checks and extraction judge an archive by this tree, and extraction writes it.

Every check costs time linear in the archive: names are split once, links are resolved
once each (memoised), and nothing recurses over the archive's depth. A rejection is an
``InvalidParameterValueException`` (a 400).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from enum import Enum

from lambdad.errors import InvalidParameterValueException

DEFAULT_DIR_MODE = 0o755
_MAX_LINK_HOPS = 40  # the kernel's own limit before ELOOP


class MemberKind(Enum):
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symbolic link"


@dataclass(frozen=True, slots=True)
class Member:
    """One entry of the archive's central directory, checked and classified."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # normalised path components below the archive root
    kind: MemberKind
    mode: int  # permission bits to give the file or directory
    target: str | None  # link target, for symbolic links only


class Node:
    """One path of the archive's tree: a directory, or the files and links written at
    that name in archive order (the last one stays). Only a layout the checks refused
    is both; extraction then refuses to write through it."""

    __slots__ = ("children", "dir_member", "dir_mode", "leaves", "name", "parent")

    def __init__(self, name: str, parent: Node | None) -> None:
        self.name = name
        self.parent = parent
        self.children: dict[str, Node] = {}
        self.leaves: list[Member] = []
        self.dir_member: Member | None = None  # the first entry that made it a directory
        self.dir_mode = DEFAULT_DIR_MODE  # the last listed directory entry's mode wins

    @property
    def is_dir(self) -> bool:
        return self.dir_member is not None

    @property
    def link_target(self) -> str | None:
        """The target of the link that stays at this path, if a link stays."""
        return self.leaves[-1].target if self.leaves else None

    def path(self) -> str:
        names: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))


@dataclass(slots=True)
class Tree:
    root: Node
    members: list[Member]
    clash: str | None = None  # the first layout error, in archive order


def build_tree(members: list[Member], *, max_dirs: int) -> Tree:
    """Place every member in a tree of the archive, one look-up per name component.

    Records (without raising: ``check_layout`` does) the first member, in archive
    order, that clashes: later duplicates replace earlier ones, as with unzip, but a
    path may not be both a directory and a file or link, since writing below a link
    would follow it.
    """
    tree = Tree(Node("", None), members)
    dirs = 0

    def clash(message: str) -> None:
        if tree.clash is None:
            tree.clash = message

    for member in members:
        name = member.info.filename
        node = tree.root
        for part in member.parts[:-1]:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node(part, node)
            if child.leaves:
                what = "symbolic link" if child.leaves[-1].kind is MemberKind.SYMLINK else "file"
                clash(
                    f"Archive entry {name!r} would be written through the {what} "
                    f"{child.leaves[-1].info.filename!r}."
                )
            if child.dir_member is None:
                child.dir_member = member
                dirs += 1
            node = child
        last = member.parts[-1]
        child = node.children.get(last)
        if child is None:
            child = node.children[last] = Node(last, node)
        if member.kind is MemberKind.DIR:
            other = child.leaves[-1] if child.leaves else None
            if child.dir_member is None:
                child.dir_member = member
                dirs += 1
            child.dir_mode = member.mode
        else:
            other = child.dir_member
            child.leaves.append(member)
        if other is not None:
            clash(
                f"Archive entry {name!r} is both a directory and a file "
                f"(see {other.info.filename!r})."
            )
        if dirs > max_dirs:
            raise InvalidParameterValueException(
                f"The archive holds more than {max_dirs} directories."
            )
    return tree


def check_layout(tree: Tree) -> None:
    """Reject names that clash and links that leave the archive root."""
    if tree.clash is not None:
        raise InvalidParameterValueException(tree.clash)
    # Resolve against the final tree, which is what a running function will see,
    # but judge every link: one later replaced still exists for a while on disk.
    links = _Links(tree.root)
    for member in tree.members:
        if member.target is not None and links.escapes(member):
            raise InvalidParameterValueException(
                f"Symbolic link {member.info.filename!r} points outside the archive "
                f"({member.target!r})."
            )


# Where a path leads: a directory of the tree, plus how many components below it do not
# exist in the archive (a path may wander through those and come back with "..").
_Place = tuple[Node, int]


class _Links:
    """Resolves links as the kernel would, following the archive's other links:
    judging a target's text alone misses chains such as ``a/l1 -> ..`` plus
    ``a/l2 -> l1/..``. Each link is resolved once and remembered, so judging every
    link costs time linear in the targets' lengths, however they chain."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self._resolved: dict[int, tuple[_Place | None, int]] = {}  # id(node) -> (place, hops)
        self._active: list[Node] = []

    def escapes(self, member: Member) -> bool:
        parent = self.root
        for part in member.parts[:-1]:
            parent = parent.children[part]
        assert member.target is not None
        place, _ = self._walk(parent, member.target, member)
        return place is None

    def _follow(self, node: Node, origin: Member) -> tuple[_Place | None, int]:
        """Where the link that stays at ``node`` leads (None: outside), and through how
        many links."""
        known = self._resolved.get(id(node))
        if known is not None:
            return known
        if node in self._active or len(self._active) >= _MAX_LINK_HOPS:
            raise _too_many_links(origin)
        target = node.link_target
        assert target is not None
        assert node.parent is not None
        self._active.append(node)
        try:
            place, hops = self._walk(node.parent, target, origin)
        finally:
            self._active.pop()
        self._resolved[id(node)] = (place, hops)
        return place, hops

    def _walk(self, start: Node, target: str, origin: Member) -> tuple[_Place | None, int]:
        node, extra, hops = start, 0, 0
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if extra:
                    extra -= 1
                elif node.parent is None:
                    return None, hops
                else:
                    node = node.parent
                continue
            if extra:
                extra += 1
                continue
            child = node.children.get(part)
            if child is None or (child.leaves and child.link_target is None):
                extra = 1  # missing, or below a file: the kernel fails; never an escape
            elif child.leaves:
                place, more = self._follow(child, origin)
                hops += 1 + more
                if hops > _MAX_LINK_HOPS:
                    raise _too_many_links(origin)
                if place is None:
                    return None, hops
                node, extra = place
            else:
                node = child
        return (node, extra), hops


def _too_many_links(member: Member) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Symbolic link {member.info.filename!r} resolves through too many links (a link loop)."
    )
