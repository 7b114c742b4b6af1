"""`bench --photos`'s cache rows at a tiny size: the figures are there and plausible (the real
sizes are measured by the lead, alone on the machine)."""

from resnet_studio.benchmarks import photos
from resnet_studio.benchmarks.photos import ROWS, PhotoBench, cache_rows, run_photo_bench


def test_the_cache_rows_prepare_the_cache_and_time_the_same_steps_from_it_and_from_memory(
    tmp_path, monkeypatch, tiny_spec
):
    # Each measurement runs in this process (a fresh one per measurement costs seconds of imports).
    monkeypatch.setattr(photos, "_in_child", lambda function, *args: function(*args))
    monkeypatch.setattr(photos, "ROWS", [cache_rows])
    bench = PhotoBench(
        images=40,
        width=64,
        height=48,
        classes=4,
        network=tiny_spec,
        size=32,
        steps=2,
        warmup=1,
        batch_size=8,
        root=tmp_path,
    )
    lines: list[str] = []
    figures = run_photo_bench(bench, log=lines.append)
    assert "above the memory budget" in figures["note"] and figures["train_images"] == 36
    assert figures["cache_mb"] > bench.budget / 1e6  # the budget is below the decoded images
    assert figures["cache_prepare_s"] >= 0 and figures["cache_images_per_s"] > 0
    assert figures["memory_images_per_s"] > 0 and figures["cache_vs_memory"] > 0
    assert figures["peak_rss_mb"] >= figures["cache_peak_rss_mb"] > 0
    assert any("target >= 0.90" in line for line in lines)
    assert (tmp_path / "photos-40-64x48-4" / "train" / "class_3").is_dir()  # kept for the next run
    assert ROWS[0] is cache_rows
