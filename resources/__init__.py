"""Files the package ships, read with importlib.resources: the trained weights (weights/, listed in
weights/weights.json), the file formats (FORMATS.md) and the README's screenshots (screenshots/,
shown by Help > Guide). Icons are drawn in code (resnet_studio/ui/common/icons.py)."""
