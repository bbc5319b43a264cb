import threading

import pytest
import torch

from deepsava.experiment.batches import load_batch, prefetched


def test_the_next_batch_loads_while_the_current_one_is_worked_on():
    started = {i: threading.Event() for i in range(4)}

    def load(i):
        started[i].set()
        return i * 10

    seen = []
    for item, loaded in prefetched(range(4), load):
        if item + 1 < 4:  # the next load starts without waiting for this item's work to end
            assert started[item + 1].wait(timeout=10)
        seen.append((item, loaded))
    assert seen == [(0, 0), (1, 10), (2, 20), (3, 30)]
    assert list(prefetched([], load)) == []
    assert list(prefetched(range(3), load, background=False)) == [(0, 0), (1, 10), (2, 20)]


def test_a_failed_load_raises_at_its_own_item():
    def load(i):
        if i == 2:
            raise ValueError("bad clip 2")
        return i

    got = []
    with pytest.raises(ValueError, match="bad clip 2"):
        for item, _ in prefetched(range(4), load):
            got.append(item)
    assert got == [0, 1]


def test_load_batch_stacks_clips_and_labels_in_the_given_order():
    clips = [(torch.full((2, 3, 4, 4), float(i)), i % 3) for i in range(5)]
    videos, labels = load_batch(clips, [4, 1, 3], torch.device("cpu"))
    assert videos.shape == (3, 2, 3, 4, 4) and videos[:, 0, 0, 0, 0].tolist() == [4.0, 1.0, 3.0]
    assert labels.tolist() == [1, 1, 0]
