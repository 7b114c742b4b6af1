import numpy as np

from resnet_studio.data import demo


def test_demo_is_deterministic_balanced_and_shaped():
    a_images, a_labels = demo.generate(200, seed=5)
    b_images, b_labels = demo.generate(200, seed=5)
    assert a_images.dtype == np.uint8 and a_images.shape == (200, 3, 32, 32)
    assert np.array_equal(a_images, b_images) and np.array_equal(a_labels, b_labels)
    assert np.bincount(a_labels, minlength=10).tolist() == [20] * 10
    other, _ = demo.generate(200, seed=6)
    assert not np.array_equal(a_images, other)


def test_demo_images_vary_in_colour_and_position():
    images, labels = demo.generate(400, seed=0)
    circles = images[labels == 0].astype(np.float32)
    # Mean colours differ widely between images of the same class...
    assert circles.mean(axis=(2, 3)).std(axis=0).min() > 30
    # ...and no single pixel position is a reliable cue: the per-pixel spread is large everywhere.
    assert circles.std(axis=0).min() > 25


def test_demo_defeats_a_linear_model():
    """Least squares on raw pixels stays near chance, however strongly regularised (ridge, three
    strengths): the set needs features, not templates."""
    images, labels = demo.generate(3000, seed=1)
    x = images.reshape(len(images), -1).astype(np.float64) / 255
    x = np.hstack([x - x[:2500].mean(0), np.ones((len(x), 1))])
    train, targets = x[:2500], np.eye(10)[labels[:2500]]
    gram, moments = train.T @ train, train.T @ targets
    for strength in (1.0, 10.0, 100.0):
        w = np.linalg.solve(gram + strength * np.eye(len(gram)), moments)
        accuracy = (np.argmax(x[2500:] @ w, 1) == labels[2500:]).mean()
        assert accuracy < 0.35, strength
