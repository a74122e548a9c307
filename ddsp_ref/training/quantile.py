"""``QuantileTransformer``: scikit-learn's quantile transform (ddsp keeps its own copy of it)."""

from __future__ import annotations

import numpy as np

__all__ = ["QuantileTransformer"]

BOUNDS_THRESHOLD = 1e-7  # keeps the normal output finite at the extreme quantiles


class QuantileTransformer:
    """Map each feature through its empirical CDF to a uniform (or normal) distribution.

    ``fit``: ``quantiles_ = nanpercentile(X, 100 * references_)`` with ``references_ =
    linspace(0, 1, n_quantiles)`` (``n_quantiles`` capped at the sample count; at most
    ``subsample`` rows, drawn without replacement by ``random_state``), made non-decreasing.
    ``transform``: the average of the interpolations from below and from above (so repeated
    quantiles map to the middle of their range); values equal to the lowest/highest quantile
    map to 0/1 (uniform); normal output is ``norm.ppf``, clipped at 1e-7 from 0 and 1.

    Args:
        n_quantiles: number of quantiles [count].
        output_distribution: 'uniform' or 'normal'.
        subsample: most rows used to fit.
        random_state: seed of the subsampling.
    """

    def __init__(
        self,
        n_quantiles: int = 1000,
        output_distribution: str = "uniform",
        subsample: int = int(1e5),
        random_state: int | None = None,
    ) -> None:
        if output_distribution not in ("uniform", "normal"):
            raise ValueError(
                "QuantileTransformer: output_distribution must be 'uniform' or 'normal', "
                f"got {output_distribution!r}"
            )
        self.n_quantiles, self.output_distribution = int(n_quantiles), output_distribution
        self.subsample, self.random_state = int(subsample), random_state

    def fit(self, x: np.ndarray) -> QuantileTransformer:
        """Fit on ``x`` [n_samples, n_features]."""
        x = _as_2d(x, "fit")
        n_samples = x.shape[0]
        self.n_quantiles_ = max(1, min(self.n_quantiles, n_samples))
        self.references_ = np.linspace(0, 1, self.n_quantiles_, endpoint=True)
        if n_samples > self.subsample:
            rows = np.random.default_rng(self.random_state).choice(
                n_samples, self.subsample, replace=False
            )
            x = x[np.sort(rows)]
        quantiles = np.nanpercentile(x, self.references_ * 100, axis=0)
        self.quantiles_ = np.maximum.accumulate(quantiles, axis=0)
        return self

    def _column(self, column: np.ndarray, quantiles: np.ndarray, inverse: bool) -> np.ndarray:
        from scipy import stats

        column = column.copy()
        normal = self.output_distribution == "normal"
        if inverse:
            lo_x, hi_x, lo_y, hi_y = 0.0, 1.0, quantiles[0], quantiles[-1]
            if normal:
                column = stats.norm.cdf(column)
        else:
            lo_x, hi_x, lo_y, hi_y = quantiles[0], quantiles[-1], 0.0, 1.0
        with np.errstate(invalid="ignore"):
            if normal:
                lower = column - BOUNDS_THRESHOLD < lo_x
                upper = column + BOUNDS_THRESHOLD > hi_x
            else:
                lower, upper = column == lo_x, column == hi_x
        finite = ~np.isnan(column)
        values = column[finite]
        refs = self.references_
        if inverse:
            column[finite] = np.interp(values, refs, quantiles)
        else:  # interpolate from both sides: ties get the middle of their reference range
            column[finite] = 0.5 * (
                np.interp(values, quantiles, refs)
                - np.interp(-values, -quantiles[::-1], -refs[::-1])
            )
        column[upper], column[lower] = hi_y, lo_y
        if normal and not inverse:
            with np.errstate(invalid="ignore"):
                column = stats.norm.ppf(column)
                bound = BOUNDS_THRESHOLD - np.spacing(1)
                column = np.clip(column, stats.norm.ppf(bound), stats.norm.ppf(1 - bound))
        return column

    def _apply(self, x: np.ndarray, inverse: bool, where: str) -> np.ndarray:
        if not hasattr(self, "quantiles_"):
            raise ValueError(f"QuantileTransformer.{where}: call fit first")
        x = _as_2d(x, where).copy()
        if x.shape[1] != self.quantiles_.shape[1]:
            raise ValueError(
                f"QuantileTransformer.{where}: fitted on {self.quantiles_.shape[1]} features, "
                f"got {x.shape[1]}"
            )
        for j in range(x.shape[1]):
            x[:, j] = self._column(x[:, j], self.quantiles_[:, j], inverse)
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """[n_samples, n_features] to the output distribution."""
        return self._apply(x, False, "transform")

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """[n_samples, n_features] from the output distribution back to the data's."""
        return self._apply(x, True, "inverse_transform")

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    def to_dict(self) -> dict:
        """The fitted state as JSON-ready values (no pickle)."""
        return {
            "n_quantiles": self.n_quantiles,
            "output_distribution": self.output_distribution,
            "subsample": self.subsample,
            "references": self.references_.tolist(),
            "quantiles": self.quantiles_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> QuantileTransformer:
        qt = cls(state["n_quantiles"], state["output_distribution"], state["subsample"])
        qt.references_ = np.asarray(state["references"], np.float64)
        qt.quantiles_ = np.asarray(state["quantiles"], np.float64)
        qt.n_quantiles_ = qt.references_.size
        return qt


def _as_2d(x, where: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(
            f"QuantileTransformer.{where}: x must be [n_samples, n_features], got shape {x.shape}"
        )
    return x
