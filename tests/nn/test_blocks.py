import torch

from resnet_studio.architecture import ArchitectureSpec, StageSpec, get_preset
from resnet_studio.nn import BasicBlock, Bottleneck, PreActBlock, ZeroPadShortcut, build_model


def test_zero_pad_shortcut_subsamples_and_pads_with_zeros():
    x = torch.randn(2, 4, 8, 8)
    y = ZeroPadShortcut(4, 6, 2)(x)
    assert y.shape == (2, 6, 4, 4)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 4:]) == 0


def test_downsample_only_where_the_shape_changes():
    assert BasicBlock(16, 16, 1).downsample is None
    assert isinstance(BasicBlock(16, 32, 2, "zero-pad").downsample, ZeroPadShortcut)
    assert isinstance(BasicBlock(16, 32, 2, "projection").downsample[0], torch.nn.Conv2d)
    assert BasicBlock(16, 32, 2, "none").downsample is None
    assert Bottleneck.expansion == 4 and Bottleneck(64, 256).conv1.out_channels == 64
    assert Bottleneck(64, 256, 2).conv2.stride == (2, 2)  # stride on the 3x3, as torchvision v1.5


def test_plain_block_has_no_shortcut_path():
    """With shortcut 'none', zeroing the branch zeroes the output: nothing bypasses it."""
    block = BasicBlock(8, 8, 1, "none").eval()
    torch.nn.init.zeros_(block.bn2.weight)
    torch.nn.init.zeros_(block.bn2.bias)
    assert torch.count_nonzero(block(torch.rand(1, 8, 4, 4))) == 0


def test_zero_init_residual_makes_each_block_start_as_its_shortcut():
    spec = ArchitectureSpec(stages=(StageSpec("basic", 2, 16, 1),))
    model = build_model(spec, zero_init_residual=True).eval()
    block = model.get_submodule("stage1.block2")
    x = torch.rand(2, 16, 8, 8)
    assert torch.allclose(block(x), torch.relu(x))
    preact = PreActBlock(8, 8)
    torch.nn.init.zeros_(preact.last_bn().weight)
    torch.nn.init.zeros_(preact.last_bn().bias)
    x = torch.randn(1, 8, 4, 4)
    assert torch.allclose(preact.eval()(x), x)


def test_blocks_are_named_for_inspection():
    model = build_model(get_preset("resnet20"))
    names = [name for name, _ in model.named_blocks()]
    assert names[0] == "stage1.block1" and names[-1] == "stage3.block3" and len(names) == 9
    assert isinstance(model.get_submodule("stage2.block1"), BasicBlock)


def test_every_block_kind_trains_a_step_without_error():
    for block in ("basic", "bottleneck", "preact"):
        for shortcut in ("projection", "zero-pad", "none"):
            spec = ArchitectureSpec(
                stages=(StageSpec(block, 1, 16, 1), StageSpec(block, 1, 32, 2)), shortcut=shortcut
            )
            model = build_model(spec)
            loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
            loss.backward()
            assert all(p.grad is not None for p in model.parameters())
