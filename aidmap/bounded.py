"""BoundedDict: an in-process cache that forgets its oldest entries beyond a size.

Every cache in a long-running process needs a bound, or it becomes the slow memory growth a soak finds.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict[K, V]):
    """A dict of at most `keep` entries: setting one makes it the newest, and drops the oldest beyond
    `keep`. Reads do not refresh an entry; call move_to_end(key) for that."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.keep:
            self.popitem(last=False)
