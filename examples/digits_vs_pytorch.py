"""The same MLP trained on the digits by autodiff and by PyTorch, side by side.

Prints both losses and the time per epoch. Same initial weights, same batches,
same optimizer (SGD with momentum), float32.

    python examples/digits_vs_pytorch.py [--fast]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import autodiff as ad


def main(argv: list[str] | None = None) -> list[tuple[float, float | None]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="two epochs (used by the tests)")
    args = parser.parse_args(argv)
    epochs = 2 if args.fast else 10
    x, y = ad.data.load_digits()
    xtr, _, ytr, _ = ad.data.train_test_split(x, y, seed=0)
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    w2 = (rng.standard_normal((64, 10)) / 8).astype(np.float32)
    order = [rng.permutation(xtr.shape[0]) for _ in range(epochs)]
    xh, yh = xtr.numpy(), ytr.numpy()
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: showing autodiff only (pip install torch)")

    aw1, aw2 = ad.nn.Parameter(ad.tensor(w1)), ad.nn.Parameter(ad.tensor(w2))
    opt = ad.optim.SGD([aw1, aw2], lr=0.05, momentum=0.9)
    if torch is not None:
        tw1 = torch.tensor(w1, requires_grad=True)
        tw2 = torch.tensor(w2, requires_grad=True)
        topt = torch.optim.SGD([tw1, tw2], lr=0.05, momentum=0.9)
    rows = []
    print(f"{'epoch':>5} {'autodiff loss':>14} {'time':>8} {'torch loss':>12} {'time':>8}")
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = 0.0
        for b in range(0, len(order[epoch]), 32):
            idx = order[epoch][b : b + 32]
            xb, yb = ad.tensor(xh[idx]), ad.tensor(yh[idx])
            opt.zero_grad()
            loss = ad.nn.cross_entropy(ad.relu(xb @ aw1) @ aw2, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        ours = total / len(xh)
        t_ours = time.perf_counter() - t0
        theirs, t_theirs = None, None
        if torch is not None:
            t0 = time.perf_counter()
            total = 0.0
            for b in range(0, len(order[epoch]), 32):
                idx = order[epoch][b : b + 32]
                xb, yb = torch.tensor(xh[idx]), torch.tensor(yh[idx])
                topt.zero_grad()
                loss_t = torch.nn.functional.cross_entropy(torch.relu(xb @ tw1) @ tw2, yb)
                loss_t.backward()
                topt.step()
                total += loss_t.item() * len(idx)
            theirs = total / len(xh)
            t_theirs = time.perf_counter() - t0
        rows.append((ours, theirs))
        tl = "-" if theirs is None else f"{theirs:.5f}"
        tt = "-" if t_theirs is None else f"{t_theirs * 1e3:.0f} ms"
        print(f"{epoch + 1:>5} {ours:>14.5f} {t_ours * 1e3:>5.0f} ms {tl:>12} {tt:>8}")
    return rows


if __name__ == "__main__":
    main()
