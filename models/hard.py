"""Models on which naive static int8 loses badly, for the accuracy-budgeted fallback search.

Each is the trained demo DigitsCNN with one function-preserving edit, so the float model keeps its accuracy
and only int8 suffers, each time in one small place while the rest of the network quantizes well:
  - `make_outlier_digits`: one activation channel scaled 100x (and the next conv scaled back): a per-tensor
    int8 scale sized for it leaves the other channels a handful of levels, as outlier features do in LLMs;
  - `make_sensitive_head_digits`: a pooled feature that is always zero gets huge classifier weights: float
    outputs do not change, but every per-channel weight scale of the classifier is set by those weights.
Data: the demo's digits splits (`edgec.models.digits_data.load_split`).
"""

from __future__ import annotations

import torch
from torch import nn

from .digits import make_pretrained


def make_outlier_digits() -> nn.Module:
    model = make_pretrained()
    first_bn = model.features[0][1]
    next_conv = model.features[1][0]
    with torch.no_grad():
        first_bn.weight[0] *= 100.0  # ReLU(100 z) = 100 ReLU(z): channel 0 grows 100x after the ReLU ...
        first_bn.bias[0] *= 100.0
        next_conv.weight[:, 0] /= 100.0  # ... and the next conv undoes it, so float outputs are unchanged
    return model


def make_sensitive_head_digits() -> nn.Module:
    model = make_pretrained()
    last_bn = model.features[3][1]
    with torch.no_grad():
        last_bn.weight[-1] = 0.0  # the last feature channel becomes ReLU(-1) = 0 everywhere ...
        last_bn.bias[-1] = -1.0
        model.classifier.weight[:, -1] = 200.0  # ... so these weights never change an output, yet set every
        # output row's int8 weight scale
    return model


def make_dead_feature_digits() -> nn.Module:
    """The sensitive-head model without its outlier weights: the float reference for what the edit costs."""
    model = make_pretrained()
    last_bn = model.features[3][1]
    with torch.no_grad():
        last_bn.weight[-1] = 0.0
        last_bn.bias[-1] = -1.0
    return model
