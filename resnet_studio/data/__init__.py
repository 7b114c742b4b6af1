"""Data sources, the built-in demo generator, image decoding and batched augmentation."""

from resnet_studio.data.sources import DataSet, DataSplits, load_data, parse_source

__all__ = ["DataSet", "DataSplits", "load_data", "parse_source"]
