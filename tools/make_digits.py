"""Regenerate autodiff/data/digits.npz from scikit-learn's bundled copy of the digits.

The data are the UCI "Optical Recognition of Handwritten Digits" test set as
shipped by scikit-learn (1,797 8×8 images, 17 grey levels). Run:
``pip install scikit-learn && python tools/make_digits.py``.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
out = Path(__file__).resolve().parent.parent / "autodiff" / "data" / "digits.npz"
np.savez_compressed(
    out,
    images=digits.data.astype(np.uint8).reshape(-1, 8, 8),
    labels=digits.target.astype(np.uint8),
)
print(f"wrote {out} ({out.stat().st_size} bytes)")
