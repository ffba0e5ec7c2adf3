"""A small CNN (Conv2d → ReLU → MaxPool2d → Linear) on the 8×8 digits.

python examples/digits_cnn.py [--fast]
"""

from __future__ import annotations

import argparse

import autodiff as ad
from autodiff.training import accuracy


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="one epoch (used by the tests)")
    args = parser.parse_args(argv)
    ad.get_backend().random.seed(0)
    x, y = ad.data.load_digits(flatten=False)
    xtr, xte, ytr, yte = ad.data.train_test_split(x, y, seed=0)
    model = ad.nn.Sequential(
        ad.nn.Conv2d(1, 8, kernel_size=3, padding=1),
        ad.nn.ReLU(),
        ad.nn.MaxPool2d(2),
        ad.nn.Flatten(),
        ad.nn.Linear(8 * 4 * 4, 10),
    )
    opt = ad.optim.Adam(model.parameters(), lr=0.01)
    epochs = 1 if args.fast else 8
    for epoch in range(epochs):
        for xb, yb in ad.data.DataLoader(xtr, ytr, batch_size=64, seed=epoch):
            opt.zero_grad()
            loss = ad.nn.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        acc = accuracy(model, xte, yte)
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  test accuracy {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
