"""How well shape tokens explain a window: reconstruction R², a PCA baseline, shape fit, σ, code usage.

Pure functions over arrays (numpy arrays or torch tensors, read as float64 numpy); no model,
no I/O. Shapes use these names:

- ``x``, ``x_pred``  (W, C, T): windows and their reconstructions, in the units the model is
  given (after the dataset's normalisation; every quantity here is unchanged by scaling a
  channel, except how windows of different spread are pooled).
- ``t``, ``l``       (W, C, N): each token's start and length as fractions of the window.
- ``s_pred``         (W, C, N, S): each token's decoded shape placed with its μ and σ, in the
  same units as ``x`` (what VQShape calls ``s_pred``).
- ``code_idx``       any shape: code of each token.

Definitions (each "series" is one channel of one window):

- **R² of a set of series** ``= 1 − Σ SSE / Σ SS``, pooled over the set, where for each series
  ``SSE = Σ_t (x − x̂)²`` and ``SS = Σ_t (x − mean_t x)²`` — the variance around the series'
  *own* mean, so predicting each series' mean gives 0 and a perfect reconstruction 1. Pooling
  sums before dividing: a series counts in proportion to its spread, and a near-constant
  series (a static window) cannot drive the number to −∞. ``reconstruction_r2`` reports it
  over all series (``r2``), per class (all series of that class's windows), per channel (that
  channel of every window), and the quartiles of the per-window R² (each window pooled over
  its channels) so that the spread across windows shows too.
- **PCA baseline** (``pca_reconstruction``): every training series standardised as VQShape
  standardises its input (``(x − mean) / sqrt(unbiased var + 1e-5)``), one PCA (scikit-learn)
  with as many components as the model has tokens per series fitted on them, each test
  series standardised the same way, projected, reconstructed and mapped back; then the same
  R² as above.
- **Shape fit** (``shape_fit_r2``): per token, the R² of its placed shape ``s_pred`` against
  the sub-sequence of ``x`` it claims (``claimed_subsequence``: S points linearly
  interpolated between ``t (T−1)`` and ``min(t + l, 1) (T−1)``, VQShape's own sampling,
  without smoothing), around that sub-sequence's own mean. A token whose shape is flat
  scores ≤ 0 however well its μ sits. Tokens whose sub-sequence is constant have no R² and
  are counted as ``n_undefined``. Summaries: median and quartiles over tokens.
- **σ ratio** (``sigma_ratio``): per token, the spread of its placed shape (std of ``s_pred``
  over its S points) over the std of the window's series it sits in (both with ddof 1, as
  VQShape's normalisation). For VQShape this is the token's σ up to the 1e-5 the
  normalisation adds to the variance. Collapsed shapes give ≈ 0; a shape as tall as the
  window's spread gives ≈ 1.
- **Coverage** (``coverage``): per series, the share of its samples inside at least one
  token's claimed sub-sequence; summarised as the mean over series (and its minimum).
- **k-means yardstick** (``kmeans_fit_r2``): a dictionary with as many codes as the model,
  k-means (scikit-learn) on the z-scored sub-sequences that the model's tokens claim on
  training windows; each test token's sub-sequence is fitted by its nearest centroid, placed
  with the least-squares scale (≥ 0) and its own mean, and scored as ``shape_fit_r2`` scores
  the model's shapes. What a plain dictionary reaches at the model's own placements.
- **Code usage** (``code_usage``): ``perplexity`` = exp(entropy of the code frequencies),
  ``dead_codes`` = codes never used, ``histogram`` = count of each code.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.decomposition import PCA

POOLING = "1 - sum(SSE) / sum(SS), SS around each series' own mean, summed over the series (window x channel) pooled"
SERIES_EPS = 1e-5  # VQShape adds this to each series' unbiased variance before dividing


def as_array(values: Any) -> np.ndarray:
    """A numpy float64 copy of an array or a torch tensor (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _ratio(sse: float, ss: float) -> float | None:
    return float(1.0 - sse / ss) if ss > 0 else None


def _quartiles(values: np.ndarray) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


# --------------------------------------------------------------------------------------
# Reconstruction
# --------------------------------------------------------------------------------------


def series_errors(x: Any, x_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """(SSE, SS) of every series: x, x_pred (..., T) -> two arrays (...).

    SS is the sum of squares around each series' own mean.
    """
    x, x_pred = as_array(x), as_array(x_pred)
    if x.shape != x_pred.shape:
        raise ValueError(f"x {x.shape} and x_pred {x_pred.shape} differ in shape")
    sse = ((x - x_pred) ** 2).sum(axis=-1)
    ss = ((x - x.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    return sse, ss


def window_r2(x: Any, x_pred: Any) -> np.ndarray:
    """R² of each window, pooled over its channels: (W, C, T) -> (W,) (nan for a constant window)."""
    return _window_r2(*series_errors(x, x_pred))


def _window_r2(sse: np.ndarray, ss: np.ndarray) -> np.ndarray:
    sse, ss = sse.sum(axis=-1), ss.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss > 0, 1.0 - sse / np.where(ss > 0, ss, 1.0), np.nan)


def reconstruction_r2(x: Any, x_pred: Any, labels: Sequence[int] | None = None, class_names: Sequence[str] | None = None,
                      channel_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Pooled R² of x_pred against x (W, C, T): overall, per class, per channel, per-window quartiles.

    ``labels`` (W,) class index of each window; ``class_names`` / ``channel_names`` name the
    keys of ``per_class`` / ``per_channel`` (default: the indices as strings). Classes without
    windows are left out. A set whose series are all constant has R² None.
    """
    sse, ss = series_errors(x, x_pred)  # (W, C)
    if sse.ndim != 2:
        raise ValueError(f"x must be (windows, channels, time), got {as_array(x).shape}")
    return r2_from_errors(sse, ss, labels, class_names, channel_names)


def r2_from_errors(sse: np.ndarray, ss: np.ndarray, labels: Sequence[int] | None = None,
                   class_names: Sequence[str] | None = None, channel_names: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`reconstruction_r2` from each series' (SSE, SS) (W, C) (see :func:`series_errors`)."""
    n_windows, n_channels = sse.shape
    channel_names = list(channel_names) if channel_names is not None else [str(c) for c in range(n_channels)]
    result: dict[str, Any] = {
        "r2": _ratio(sse.sum(), ss.sum()),
        "per_channel": {channel_names[c]: _ratio(sse[:, c].sum(), ss[:, c].sum()) for c in range(n_channels)},
    }
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (n_windows,):
            raise ValueError(f"labels {labels.shape} must be ({n_windows},)")
        names = list(class_names) if class_names is not None else [str(k) for k in range(int(labels.max(initial=-1)) + 1)]
        result["per_class"] = {
            names[k]: _ratio(sse[labels == k].sum(), ss[labels == k].sum()) for k in range(len(names)) if (labels == k).any()
        }
    result["window_r2"] = _quartiles(_window_r2(sse, ss))
    result["n_windows"] = int(n_windows)
    result["pooling"] = POOLING
    return result


def standardize_series(series: np.ndarray, eps: float = SERIES_EPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VQShape's per-series normalisation: (M, T) -> (standardised, mean (M, 1), std (M, 1))."""
    mean = series.mean(axis=-1, keepdims=True)
    std = np.sqrt(series.var(axis=-1, ddof=1, keepdims=True) + eps)
    return (series - mean) / std, mean, std


class SeriesPCA:
    """One PCA over univariate series, each standardised as VQShape standardises its input.

    ``SeriesPCA(train_x, n_components)`` fits on every channel of every training window
    (W', C, T) (at most ``max_train_series`` series, drawn with ``seed``);
    :meth:`reconstruct` standardises each series of x (W, C, T), projects it, reconstructs it
    and maps it back with its own mean and std.
    """

    def __init__(self, train_x: Any, n_components: int, *, max_train_series: int = 20_000, seed: int = 0,
                 eps: float = SERIES_EPS):
        train = as_array(train_x)
        self.length, self.eps = train.shape[-1], eps
        series = train.reshape(-1, self.length)
        if len(series) > max_train_series:
            series = series[np.sort(np.random.default_rng(seed).choice(len(series), max_train_series, replace=False))]
        self.n_components = int(min(n_components, len(series), self.length))
        self.pca = PCA(n_components=self.n_components, svd_solver="full").fit(standardize_series(series, eps)[0])

    def reconstruct(self, x: Any) -> np.ndarray:
        x = as_array(x)
        if x.shape[-1] != self.length:
            raise ValueError(f"the PCA was fitted on {self.length} samples, these windows have {x.shape[-1]}")
        norm, mean, std = standardize_series(x.reshape(-1, self.length), self.eps)
        return (self.pca.inverse_transform(self.pca.transform(norm)) * std + mean).reshape(x.shape)


def pca_reconstruction(train_x: Any, test_x: Any, n_components: int, **options: Any) -> np.ndarray:
    """Test windows (W, C, T) reconstructed by a :class:`SeriesPCA` of training windows (W', C, T)."""
    return SeriesPCA(train_x, n_components, **options).reconstruct(test_x)


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------


def claimed_subsequence(x: Any, t: Any, l: Any, length: int) -> np.ndarray:
    """The sub-sequence each token claims: x (W, C, T), t, l (W, C, N) -> (W, C, N, length).

    ``length`` points linearly interpolated between ``t (T−1)`` and ``min(t + l, 1) (T−1)``
    (positions clipped to the window, as VQShape's ``extract_subsequence`` without smoothing).
    """
    x, t, l = as_array(x), as_array(t), as_array(l)
    T = x.shape[-1]
    steps = np.linspace(0.0, 1.0, length)
    start = t * (T - 1)
    end = np.minimum(t + l, 1.0) * (T - 1)
    pos = np.clip(start[..., None] + (end - start)[..., None] * steps, 0, T - 1)  # (W, C, N, length)
    left = np.minimum(np.floor(pos).astype(np.int64), T - 2) if T > 1 else np.zeros(pos.shape, dtype=np.int64)
    frac = pos - left
    series = np.broadcast_to(x[..., None, :], (*t.shape, T))  # (W, C, N, T)
    x_left = np.take_along_axis(series, left, axis=-1)
    x_right = np.take_along_axis(series, np.minimum(left + 1, T - 1), axis=-1)
    return x_left * (1 - frac) + x_right * frac


def shape_fit_r2(x: Any, t: Any, l: Any, s_pred: Any) -> np.ndarray:
    """R² of each token's placed shape against the sub-sequence it claims -> (W, C, N).

    nan where the claimed sub-sequence is constant (no spread to explain).
    """
    s_pred = as_array(s_pred)
    s_true = claimed_subsequence(x, t, l, s_pred.shape[-1])
    sse = ((s_pred - s_true) ** 2).sum(axis=-1)
    ss = ((s_true - s_true.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    # constant up to float rounding, relative to the window's own spread
    window_ss = np.var(as_array(x), axis=-1)[..., None] * s_pred.shape[-1]
    defined = ss > 1e-12 * window_ss + 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, 1.0 - sse / np.where(defined, ss, 1.0), np.nan)


def coverage(t: Any, l: Any, length: int) -> np.ndarray:
    """Share of each series' samples inside at least one token's claimed sub-sequence:
    t, l (W, C, N) fractions of a window of ``length`` samples -> (W, C)."""
    t, l = as_array(t), as_array(l)
    samples = np.arange(length)
    start = t * (length - 1)
    end = np.minimum(t + l, 1.0) * (length - 1)
    inside = (samples >= np.floor(start[..., None])) & (samples <= np.ceil(end[..., None]))  # (W, C, N, T)
    return inside.any(axis=-2).mean(axis=-1)


def zscore_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (M, S) centred and scaled to unit norm -> (unit rows, norm of the centred rows)."""
    centred = rows - rows.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(centred, axis=-1)
    return centred / np.maximum(norm, 1e-12)[:, None], norm


def kmeans_fit_r2(train_subsequences: Any, test_subsequences: Any, n_codes: int, *, seed: int = 0) -> np.ndarray:
    """The k-means yardstick: (M, S) training and (M', S) test claimed sub-sequences -> (M',) R²
    of each test sub-sequence's nearest centroid, placed with the least-squares scale (≥ 0) and
    its own mean; nan for constant sub-sequences."""
    from sklearn.cluster import KMeans  # lazy: scikit-learn's k-means is only needed here

    train_unit, train_norm = zscore_rows(as_array(train_subsequences))
    train_unit = train_unit[train_norm > 1e-9]
    kmeans = KMeans(n_clusters=min(n_codes, len(train_unit)), n_init=1, random_state=seed).fit(train_unit)
    centroids = kmeans.cluster_centers_
    test_unit, test_norm = zscore_rows(as_array(test_subsequences))
    nearest = centroids[kmeans.predict(test_unit)]  # (M', S)
    nearest = nearest - nearest.mean(axis=-1, keepdims=True)
    # R² of the least-squares placement = squared cosine of the centred centroid with the unit form
    cosine = (nearest * test_unit).sum(-1) / np.maximum(np.linalg.norm(nearest, axis=-1), 1e-12)
    return np.where(test_norm > 1e-9, np.clip(cosine, 0, None) ** 2, np.nan)


def sigma_ratio(x: Any, s_pred: Any) -> np.ndarray:
    """Std of each token's placed shape over the std of its window's series -> (W, C, N).

    nan where the series is constant.
    """
    x, s_pred = as_array(x), as_array(s_pred)
    window_std = x.std(axis=-1, ddof=1)[..., None]  # (W, C, 1)
    shape_std = s_pred.std(axis=-1, ddof=1)  # (W, C, N)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(window_std > 0, shape_std / np.where(window_std > 0, window_std, 1.0), np.nan)


def shape_summary(x: Any, t: Any, l: Any, s_pred: Any) -> dict[str, Any]:
    """``fit_r2`` and ``sigma_ratio``: median and quartiles over all tokens of all windows."""
    return _shape_entry(shape_fit_r2(x, t, l, s_pred).ravel(), sigma_ratio(x, s_pred).ravel())


def _shape_entry(fit: np.ndarray, ratio: np.ndarray) -> dict[str, Any]:
    return {
        "fit_r2": {**_quartiles(fit), "n_tokens": int(fit.size), "n_undefined": int(np.isnan(fit).sum())},
        "sigma_ratio": {**_quartiles(ratio), "n_tokens": int(ratio.size)},
    }


# --------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------


def code_histogram(code_idx: Any, num_codes: int) -> np.ndarray:
    """How often each of ``num_codes`` codes occurs among ``code_idx`` (any shape) -> (num_codes,) int."""
    flat = np.asarray(as_array(code_idx), dtype=np.int64).ravel()
    if flat.size and (flat.min() < 0 or flat.max() >= num_codes):
        raise ValueError(f"codes must lie in [0, {num_codes}), got {flat.min()}..{flat.max()}")
    return np.bincount(flat, minlength=num_codes)


def code_usage(code_idx: Any, num_codes: int) -> dict[str, Any]:
    """perplexity, used and dead codes, and the histogram of code counts."""
    counts = code_histogram(code_idx, num_codes)
    total = counts.sum()
    p = counts[counts > 0] / max(total, 1)
    return {
        "num_codes": int(num_codes),
        "used_codes": int((counts > 0).sum()),
        "dead_codes": int((counts == 0).sum()),
        "perplexity": float(np.exp(-(p * np.log(p)).sum())) if total else 0.0,
        "histogram": [int(c) for c in counts],
    }


# --------------------------------------------------------------------------------------
# Over a dataset, batch by batch
# --------------------------------------------------------------------------------------


class ShapeMetricsAccumulator:
    """Collects, batch by batch, the small per-series and per-token numbers the metrics need.

    ``add(x, outputs, labels)`` with x (B, C, T) and a model's outputs holding ``x_pred``
    (B, C, T) and optionally ``t``, ``l`` (B, C, N), ``s_pred`` (B, C, N, S), ``code_idx``;
    keeps (SSE, SS) per series and fit / σ ratio per token, never the windows themselves.
    ``pca_train``: training windows (W', C, T), or a function returning them (called once, at
    the first batch with tokens), for the :class:`SeriesPCA` baseline with one component per
    token of the model.
    """

    def __init__(self, pca_train: Any = None, *, seed: int = 0, kmeans_train: Any = None,
                 max_kmeans_tokens: int = 20_000) -> None:
        self.kmeans_train = kmeans_train  # a function returning training sub-sequences (M, S) at the model's placements
        self.max_kmeans_tokens = max_kmeans_tokens
        self.claimed: list[np.ndarray] = []  # a sample of the test tokens' claimed sub-sequences (for kmeans_train)
        self.covered: list[np.ndarray] = []
        self.errors: list[tuple[np.ndarray, np.ndarray]] = []
        self.pca_errors: list[tuple[np.ndarray, np.ndarray]] = []
        self.labels: list[np.ndarray] = []
        self.fit: list[np.ndarray] = []
        self.ratio: list[np.ndarray] = []
        self.tokens_per_series: int | None = None
        self.pca_train, self.seed = pca_train, seed  # training windows (W', C, T) for the baseline, fitted lazily
        self.pca: SeriesPCA | None = None

    def add(self, x: Any, outputs: dict[str, Any], labels: Any) -> None:
        if outputs.get("x_pred") is None:
            return
        x = as_array(x)
        self.errors.append(series_errors(x, outputs["x_pred"]))
        self.labels.append(np.asarray(as_array(labels), dtype=np.int64))
        if outputs.get("code_idx") is not None:
            self.tokens_per_series = int(as_array(outputs["code_idx"]).shape[-1])
        if all(outputs.get(k) is not None for k in ("t", "l", "s_pred")):
            self.fit.append(shape_fit_r2(x, outputs["t"], outputs["l"], outputs["s_pred"]).reshape(-1))
            self.ratio.append(sigma_ratio(x, outputs["s_pred"]).reshape(-1))
            self.covered.append(coverage(outputs["t"], outputs["l"], x.shape[-1]).reshape(-1))
            if self.kmeans_train is not None:
                self.claimed.append(self._sample_claimed(x, outputs))
            self.tokens_per_series = int(as_array(outputs["t"]).shape[-1])
        if self.pca_train is not None and self.tokens_per_series:
            if self.pca is None:  # as many components as the model has tokens per series
                train = self.pca_train() if callable(self.pca_train) else self.pca_train
                self.pca = SeriesPCA(train, self.tokens_per_series, seed=self.seed)
            self.pca_errors.append(series_errors(x, self.pca.reconstruct(x)))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def reconstruction(self, class_names: Sequence[str] | None = None, channel_names: Sequence[str] | None = None) -> dict[str, Any]:
        """The model's R² (:func:`r2_from_errors`), with the PCA baseline beside it when one was given."""
        labels = np.concatenate(self.labels)
        model = r2_from_errors(*(np.concatenate(parts) for parts in zip(*self.errors)), labels, class_names, channel_names)
        if self.pca is None or len(self.pca_errors) != len(self.errors):
            return model
        pca = r2_from_errors(*(np.concatenate(parts) for parts in zip(*self.pca_errors)), labels, class_names, channel_names)
        return with_pca_baseline(model, pca, self.pca.n_components)

    def _sample_claimed(self, x: np.ndarray, outputs: dict[str, Any]) -> np.ndarray:
        """Up to ``max_kmeans_tokens`` claimed sub-sequences of this batch's tokens (seeded draw)."""
        s_pred = as_array(outputs["s_pred"])
        claimed = claimed_subsequence(x, outputs["t"], outputs["l"], s_pred.shape[-1]).reshape(-1, s_pred.shape[-1])
        rng = np.random.default_rng(self.seed + len(self.claimed))
        keep = min(len(claimed), self.max_kmeans_tokens)
        return claimed[np.sort(rng.choice(len(claimed), keep, replace=False))]

    def shapes(self) -> dict[str, Any] | None:
        """``fit_r2``, ``sigma_ratio`` (:func:`shape_summary`), ``coverage`` and, with training
        sub-sequences, ``kmeans_fit_r2`` over every token seen; None without shapes."""
        if not self.fit:
            return None
        covered = np.concatenate(self.covered)
        entry = {**_shape_entry(np.concatenate(self.fit), np.concatenate(self.ratio)), "tokens_per_series": self.tokens_per_series,
                 "coverage": {"mean": float(covered.mean()), "min": float(covered.min()), "n_series": int(covered.size)}}
        if self.claimed:
            test = np.concatenate(self.claimed)
            test = test[np.random.default_rng(self.seed).permutation(len(test))[: self.max_kmeans_tokens]]
            train, n_codes = self.kmeans_train()
            entry["kmeans_fit_r2"] = {**_quartiles(kmeans_fit_r2(train, test, n_codes, seed=self.seed)), "n_codes": int(n_codes),
                                      "n_tokens": int(len(test))}
        return entry


def with_pca_baseline(model: dict[str, Any], pca: dict[str, Any], n_components: int) -> dict[str, Any]:
    """The ``reconstruction`` entry: the model's R² (:func:`r2_from_errors`) with the PCA
    baseline's beside it — ``r2`` and ``pca_r2`` overall, per class and per channel
    ``{"r2", "pca_r2"}``, both per-window quartiles."""
    merged: dict[str, Any] = {"r2": model["r2"], "pca_r2": pca["r2"]}
    for part in ("per_class", "per_channel"):
        if part in model:
            merged[part] = {k: {"r2": v, "pca_r2": pca.get(part, {}).get(k)} for k, v in model[part].items()}
    merged.update({"window_r2": model["window_r2"], "pca_window_r2": pca["window_r2"], "pca_components": int(n_components),
                   "n_windows": model["n_windows"], "pooling": model["pooling"]})
    return merged
