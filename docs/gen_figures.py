"""Regenerate the pictures in docs/images/ with autodiff.viz (needs graphviz and dot).

python docs/gen_figures.py
"""

from pathlib import Path

import autodiff as ad

HERE = Path(__file__).resolve().parent / "images"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    x = ad.var("x", 2.0)
    y = ad.var("y", 3.0)
    ad.viz.render(x * y + ad.sin(x), path=HERE / "quickstart-graph.svg")
    ad.get_backend().random.seed(0)
    model = ad.nn.Sequential(ad.nn.Linear(4, 8), ad.nn.ReLU(), ad.nn.Linear(8, 3))
    loss = ad.nn.cross_entropy(model(ad.ones((2, 4))), ad.tensor([0, 2]))
    ad.viz.render(loss, path=HERE / "mlp-graph.svg", params=model)
    chain = ad.var("x", 1.0)
    for _ in range(50):
        chain = ad.tanh(chain * 1.0001 + 0.001)
    ad.viz.render(chain, path=HERE / "long-chain.svg", max_nodes=12)


if __name__ == "__main__":
    main()
