"""The study's counterbalanced plan: a balanced Latin square (Williams design) of model orders and a rotation of
image blocks over the enrolled participants, so every model is seen first equally often and every image is
used equally often with every model once the number of participants is a multiple of `Design.period`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # the organiser's ids: safe in a URL, a file name, HTML


def williams(n: int) -> list[list[int]]:
    """The rows of a Williams design for n treatments: a Latin square in which every treatment follows every
    other one equally often (first-order carry-over balanced). n rows for even n, 2n (each row and its mirror)
    for odd n."""
    if n < 1:
        raise ValueError("a Latin square needs at least one treatment")
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:  # 0, 1, n-1, 2, n-2, ...
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(t + r) % n for t in first] for r in range(n)]
    return rows if n % 2 == 0 else rows + [row[::-1] for row in rows]


@dataclass(frozen=True)
class Design:
    """Models, the study's images and how many images each participant colorizes with each model.

    Participant k (0-based enrolment position) takes the models in Williams row k mod R, and model m (its
    index in `models`) on image block (k + m) mod B, where the images are cut into B = len(images) //
    images_per_model blocks. Different models of one participant get different blocks whenever B ≥ len(models),
    so nobody colorizes the same sketch twice (the second model would profit from the first).
    """

    models: tuple[str, ...]
    images: tuple[str, ...]
    images_per_model: int

    def __post_init__(self) -> None:
        if not self.models or self.images_per_model < 1 or len(self.images) < self.images_per_model:
            raise ValueError(f"a plan needs models and at least {self.images_per_model} images")

    @property
    def blocks(self) -> int:
        return len(self.images) // self.images_per_model

    @property
    def orders(self) -> list[list[int]]:
        return williams(len(self.models))

    @property
    def period(self) -> int:
        """Participants per fully balanced group: every model order and every image block once per model."""
        return math.lcm(len(self.orders), self.blocks)

    def plan(self, position: int) -> list[tuple[str, str]]:
        """The (model, image) tasks of the participant enrolled at `position`, in the order they are done."""
        order = self.orders[position % len(self.orders)]
        tasks = []
        for m in order:
            block = (position + m) % self.blocks
            start = block * self.images_per_model
            tasks += [(self.models[m], image) for image in self.images[start : start + self.images_per_model]]
        return tasks

    def describe(self) -> dict[str, object]:
        """What the database stores to refuse a restart with another design (JSON-able)."""
        return {"models": list(self.models), "images": list(self.images), "images_per_model": self.images_per_model}


def rank_images(position: int, count: int, images: list[str]) -> list[str]:
    """The images of a participant's `count` ranking tasks: consecutive images starting at a per-participant
    offset, so the images are used equally often over the participants."""
    return [images[(position * count + k) % len(images)] for k in range(count)]
