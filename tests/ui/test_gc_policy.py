"""The garbage collector's one owner (`ui/common/gc_policy.py`): collection on the UI thread by a
timer, frozen while a run trains and unfrozen when it ends, and given back by `uninstall`."""

import gc
import weakref

import pytest

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.ui.common.gc_policy import GarbageCollection, garbage_collection

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(train_window):
    return train_window(TINY)


def test_collection_is_frozen_for_a_run_and_unfrozen_after_it(window, qtbot):
    view = window.train_view
    assert not gc.isenabled() and garbage_collection().installed  # collected on the UI thread only
    assert gc.get_freeze_count() == 0
    during = []
    window.training.launched.connect(lambda _: during.append(gc.get_freeze_count()))
    view.setup.steps.setValue(2)
    view.start()
    assert view.training and gc.get_freeze_count() > 0
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert during and during[0] > 0 and gc.get_freeze_count() == 0
    assert window.training.last_finished.status == "completed"


def test_the_timer_collects_cycles_on_the_ui_thread(window, qtbot):
    class Node:
        other: object = None

    assert not gc.isenabled()  # nothing collects but the timer
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # every generation due at each tick: the cycle goes within three
    try:
        first = Node()
        first.other = Node()
        first.other.other = first  # a cycle: only the collector frees it
        alive = weakref.ref(first)
        del first
        qtbot.waitUntil(lambda: alive() is None, timeout=10_000)
    finally:
        gc.set_threshold(*thresholds)


def test_a_policy_gives_back_what_it_changed(qapp):
    enabled = gc.isenabled()
    policy = GarbageCollection()
    policy.install()
    assert not gc.isenabled() and policy.timer.isActive()
    policy.run_started()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    keep = [[] for _ in range(10)]  # new objects: a second freeze would take them too
    policy.run_started()  # a second start freezes nothing more
    assert gc.get_freeze_count() == frozen and keep
    policy.run_ended()
    assert gc.get_freeze_count() == 0
    policy.run_started()
    policy.uninstall()  # unfreezes too
    assert gc.get_freeze_count() == 0 and gc.isenabled() == enabled and not policy.timer.isActive()
