"""At-initialisation predictors of trainability, one number each per cell of a sweep, and how well
each predicts the outcome (Spearman rank correlation with the final loss over the cells).

The predictors come from one forward/backward of the cell's fresh model on its first training batch
(``resnorm.studies.signal.init_metrics``: the same probes as training, weights and batch from the
cell's seed), read from the last stack's blocks (the decoder's in an encoder-decoder):

- ``rank_residual``: ‖X − 1x̄ᵀ‖_F/‖X‖_F of the stream after the last block (Dong et al. 2021;
  0 = every token carries the same vector, rank collapse — Noci et al. 2022 tie it to trainability);
- ``grad_ratio``: gradient norm of the last block / that of the first block (Xiong et al. 2020:
  Post-LN's gradients grow towards the output, which is why it needs warmup);
- ``resid_growth``: E[x²] after the last block / E[x²] after the first block (how much the residual
  stream grows with depth: Pre-LN's grows linearly, Post-LN's is renormalised each block);
- ``attn_entropy``: self-attention entropy in nats, mean over blocks, heads and queries (near
  log(seq) = uniform attention; collapse to 0 = entropy collapse, Zhai et al. 2023).

``PREDICTORS`` holds the names (the cells.csv columns are ``pred_<name>``) and their meanings.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..science import names

PREDICTORS: dict[str, str] = {
    "rank_residual": "rank residual of the stream after the last block at init (0 = rank collapse)",
    "grad_ratio": "gradient norm of the last block / first block at init",
    "resid_growth": "residual-stream mean square after the last block / after the first block at init",
    "attn_entropy": "self-attention entropy (nats) at init, mean over blocks, heads and queries",
}
COLUMNS = [f"pred_{k}" for k in PREDICTORS]  # the columns of cells.csv, in this order


def _ratio(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return float("nan")
    return a / b


def from_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The four predictors (keys ``pred_<name>``) from ``init_metrics``' dict; NaN where a metric is
    absent (e.g. no residual-stream statistic) or a ratio's denominator is 0 or non-finite."""
    blocks: dict[str, dict[int, dict[str, float]]] = {}
    for name, v in metrics.items():
        b = names.parse(name)
        if b is not None and b.rest:
            blocks.setdefault(b.stack, {}).setdefault(b.block, {})[b.rest] = float(v)
    nan = float("nan")
    if not blocks:
        return {c: nan for c in COLUMNS}
    stack = max(blocks, key=lambda s: names.STACK_ORDER.get(s, 0))  # dec in an encoder-decoder
    per = blocks[stack]
    first, last = per[min(per)], per[max(per)]
    ent = [d["attn.entropy"] for d in per.values() if "attn.entropy" in d]
    rms_first, rms_last = first.get("resid_post.rms", nan), last.get("resid_post.rms", nan)
    return {"pred_rank_residual": last.get("rank_residual", nan),
            "pred_grad_ratio": _ratio(last.get("grad_norm", nan), first.get("grad_norm", nan)),
            "pred_resid_growth": _ratio(rms_last * rms_last, rms_first * rms_first),
            "pred_attn_entropy": float(np.mean(ent)) if ent else nan}


def spearman(x, y) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their mean rank, as
    ``pandas.Series.rank(method="average")``), over the pairs where both values are finite. NaN with
    fewer than 3 pairs or when either side is constant."""
    a = pd.Series(np.asarray(x, dtype=np.float64))
    b = pd.Series(np.asarray(y, dtype=np.float64))
    ok = np.isfinite(a.to_numpy()) & np.isfinite(b.to_numpy())
    a, b = a[ok], b[ok]
    if len(a) < 3:
        return float("nan")
    ra, rb = a.rank(method="average").to_numpy(), b.rank(method="average").to_numpy()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def predictor_correlation(rows, outcome: str = "final_loss", diverged_as: float = math.inf) -> pd.DataFrame:
    """Rank correlation of each predictor with ``outcome`` over a sweep's cells (``rows``: cells.csv
    as a DataFrame or a list of dicts). A diverged cell counts as the worst outcome (``diverged_as``,
    +inf by default: ranks are all that matter, and it ranks last); failed cells and cells without a
    value are left out. Columns ``predictor, spearman, n`` (n: the cells used), one row per predictor."""
    frame = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows)
    out = []
    if frame.empty or outcome not in frame:
        return pd.DataFrame({"predictor": list(PREDICTORS), "spearman": [float("nan")] * len(PREDICTORS),
                             "n": [0] * len(PREDICTORS)})
    y = pd.to_numeric(frame[outcome], errors="coerce").astype(np.float64)
    status = frame["status"] if "status" in frame else pd.Series(["completed"] * len(frame))
    y = y.where(status != "diverged", diverged_as).where(status != "failed", np.nan)
    y = y.replace(math.inf, np.finfo(np.float64).max) if diverged_as == math.inf else y
    for name in PREDICTORS:
        col = f"pred_{name}"
        x = pd.to_numeric(frame[col], errors="coerce").astype(np.float64) if col in frame else pd.Series(np.nan, index=frame.index)
        n = int((np.isfinite(x.to_numpy()) & np.isfinite(y.to_numpy())).sum())
        out.append((name, spearman(x, y), n))
    return pd.DataFrame(out, columns=["predictor", "spearman", "n"])
