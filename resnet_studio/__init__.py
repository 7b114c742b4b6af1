"""ResNet Studio: build residual networks visually, train them live and look inside them."""

__version__ = "0.1.0"
