"""The seeds' 2 → 8 → 1 network trained with Adam (autodiff-rs's example), on XOR.

python examples/seed_network.py [--fast]
"""

from __future__ import annotations

import argparse

import autodiff as ad


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="fewer steps (used by the tests)")
    args = parser.parse_args(argv)
    ad.get_backend().random.seed(0)
    x = ad.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=ad.float32)
    y = ad.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=ad.float32)
    l1, l2 = ad.nn.Linear(2, 8), ad.nn.Linear(8, 1)
    opt = ad.optim.Adam([*l1.parameters(), *l2.parameters()], lr=0.05)
    steps = 300 if args.fast else 1000
    for step in range(steps):
        opt.zero_grad()
        pred = l2(ad.relu(l1(x)))
        loss = ad.nn.mse_loss(pred, y)
        loss.backward()
        opt.step()
        if step % (steps // 5) == 0:
            print(f"step {step:4d}  loss {loss.item():.5f}")
    print("predictions:", [round(v, 3) for v in l2(ad.relu(l1(x))).reshape(-1).tolist()])
    final = loss.item()
    print(f"final loss {final:.5f}")
    return final


if __name__ == "__main__":
    main()
