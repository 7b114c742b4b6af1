"""The Build workspace: the canvas, the palette, the Properties inspector and the summary."""
