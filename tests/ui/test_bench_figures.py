"""How the studio's benchmark reads its alternating studio/headless pairs."""

from resnet_studio.ui.shell.bench import pair_figures


def test_studio_vs_headless_is_the_median_pair_with_its_spread():
    figures = pair_figures([540.0, 600.0, 450.0], [600.0, 600.0, 500.0])
    assert figures["studio_vs_headless_pairs"] == [0.9, 1.0, 0.9]
    assert figures["studio_vs_headless"] == 0.9  # one fast studio run does not lift it
    assert figures["studio_vs_headless_spread"] == 0.1
    assert figures["studio_images_per_s"] == 540.0 and figures["headless_images_per_s"] == 600.0
