"""Runtime assets (icons, style sheets, sample images), read with importlib.resources."""
