"""`python -m resnet_studio` is the `resnet-studio` command (torchrun runs it this way)."""

from resnet_studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
