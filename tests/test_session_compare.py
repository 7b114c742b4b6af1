"""The paragraph that ends a plain-vs-residual comparison."""

from resnet_studio.session.compare import TwinResult, early_to_late, summarize


def test_early_to_late_leaves_out_stem_and_head():
    assert early_to_late([9.0, 0.5, 0.7, 1.0, 9.0]) == 0.5
    assert early_to_late([1.0, 2.0]) is None and early_to_late([1.0, 0.5, 0.0, 1.0]) is None


def test_a_clear_gap_and_fading_gradients_are_named():
    text = summarize(
        "ResNet-56",
        TwinResult(0.91, 0.30, [1.0, 0.9, 0.8, 1.0, 0.2]),
        TwinResult(0.55, 1.20, [1.0, 0.05, 0.3, 1.0, 0.2]),
    )
    assert "residual ResNet-56 reached 91.0%" in text and "plain twin" in text and "55.0%" in text
    assert "training loss 0.300 against 1.200" in text
    assert "learned far less" in text and "degradation" in text
    assert "90% of the last block's gradient in the residual network and 5% in the plain" in text
    assert "fades" in text


def test_no_gap_says_the_pair_is_too_shallow_and_what_to_try():
    text = summarize("ResNet-20", TwinResult(0.990, 0.05), TwinResult(0.992, 0.05))
    assert "about as well" in text and "ResNet-56" in text and "gradient" not in text
    assert "before both" in summarize("X", TwinResult(None, None), TwinResult(0.5, 1.0))


def test_the_degradation_paragraph_reads_the_four_losses():
    from resnet_studio.session.compare import summarize_degradation

    names = ["ResNet-20", "ResNet-20 (plain)", "ResNet-56", "ResNet-56 (plain)"]
    results = [TwinResult(0.9, 0.3), TwinResult(0.85, 0.5), TwinResult(0.92, 0.25), TwinResult(0.6, 1.1)]
    text = summarize_degradation(names, results, classes=10)
    assert "ResNet-56 (plain) training loss 1.100, 60.0% validation accuracy" in text
    assert "the degradation problem" in text and "depth does not hurt" in text
    assert "shortcuts are worth 0.850" in text and "not yet learned" not in text
    stuck = [TwinResult(0.3, 1.5), TwinResult(0.2, 1.9), TwinResult(0.1, 2.30), TwinResult(0.1, 2.31)]
    text = summarize_degradation(names, stuck, classes=10)
    assert "ResNet-56 and ResNet-56 (plain) had not yet learned anything" in text
    assert "degradation" not in text and "shallower pair shows what shortcuts do: training loss 1.500" in text
    assert "ended before" in summarize_degradation(names, stuck[:3], classes=10)
    # Measured on the demo data (150 steps at lr 0.03): the deep plain network alone stays at chance.
    measured = [
        TwinResult(0.261, 1.802),
        TwinResult(0.205, 2.066),
        TwinResult(0.269, 1.813),
        TwinResult(0.09, 2.302),
    ]
    text = summarize_degradation(names, measured, classes=10)
    assert "the degradation problem" in text and "depth does not hurt" in text
    assert "ResNet-56 (plain) has not even left chance" in text and "train longer" not in text
