"""`resnet-studio bench --inspection`: each figure of what Inspect computes is there, from the
shipped ResNet-20 on the images asked for (few here: the test reads the figures, never times them)."""

from resnet_studio.benchmarks.inspection import run_inspection_bench
from resnet_studio.cli import main

KEYS = {
    "anatomy_ms",
    "channel_top9_s",
    "channel_optimise_s",
    "embedding_features_s",
    "embedding_pca_ms",
    "embedding_tsne_s",
}


def test_every_figure_is_measured_on_the_images_asked_for():
    said = []
    figures = run_inspection_bench("demo", images=60, points=40, steps=4, log=said.append)
    assert set(figures) >= KEYS and all(figures[key] >= 0 for key in KEYS)
    assert figures["inspection_data"] == "demo" and figures["inspection_images"] == 60
    assert (
        len(said) == 5
        and "top 9 of channel 5 over 60 images" in said[0]
        and "anatomy of stage2.block1" in said[1]
        and "tsne of 40 points" in said[-1]
    )


def test_the_command_refuses_data_without_inspection(capsys):
    assert main(["bench", "--data", "demo"]) == 2
    err = capsys.readouterr().err
    assert "--data: only with --inspection" in err and "Traceback" not in err
