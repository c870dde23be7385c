"""2-D / 3-D projections of embeddings: t-SNE, UMAP, PCA (seeded, deterministic).

All three work on unit-normalised vectors (cosine geometry, as the encoders are compared by
cosine). t-SNE uses scikit-learn (``init="pca"``, ``random_state=seed``, perplexity 30 clamped
below the point count); UMAP uses umap-learn with cosine metric, ``random_state=seed`` (which
makes it single-threaded and reproducible) and ``n_neighbors`` 70 (the plan's choice, to keep
the global structure) clamped below the point count; PCA is scikit-learn's.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from ..errors import UserError
from .similarity import unit_rows

METHODS = ("tsne", "umap", "pca")
DEFAULT_N_NEIGHBORS = 70
DEFAULT_PERPLEXITY = 30.0


def project(
    vectors: np.ndarray,
    method: str = "tsne",
    dims: int = 2,
    seed: int = 0,
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    perplexity: float = DEFAULT_PERPLEXITY,
) -> tuple[np.ndarray, dict]:
    """Coordinates (N, dims) float64 of ``vectors`` (N, D) and the parameters actually used."""
    if method not in METHODS:
        raise UserError("--method", f"unknown projection method '{method}' (choose from {', '.join(METHODS)})")
    if dims not in (2, 3):
        raise UserError("--dims", f"must be 2 or 3, got {dims}")
    n = len(vectors)
    if n < dims + 2:
        raise UserError("embeddings", f"{n} points are too few for a {dims}-D {method} projection (need at least {dims + 2})")
    x = unit_rows(vectors)
    if method == "pca":
        pca = PCA(n_components=dims, random_state=seed)
        coords = pca.fit_transform(x)
        return coords, {"method": "pca", "dims": dims, "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]}
    if method == "tsne":
        used = float(min(perplexity, (n - 1) / 3))  # sklearn needs perplexity < n
        tsne = TSNE(n_components=dims, perplexity=used, init="pca", metric="cosine", random_state=seed)
        return tsne.fit_transform(x), {"method": "tsne", "dims": dims, "perplexity": used, "seed": seed}
    import umap  # lazy: umap-learn is a slow import (numba) and only this method needs it

    used_neighbors = int(max(2, min(n_neighbors, n - 1)))
    reducer = umap.UMAP(
        n_components=dims,
        n_neighbors=used_neighbors,
        metric="cosine",
        random_state=seed,
        init="spectral" if n > dims + 1 + 10 else "random",  # spectral init needs enough points
    )
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": intended (reproducible)
        warnings.filterwarnings("ignore", message=".*n_jobs value.*", category=UserWarning)
        coords = reducer.fit_transform(x).astype(np.float64)
    return coords, {"method": "umap", "dims": dims, "n_neighbors": used_neighbors, "seed": seed}
