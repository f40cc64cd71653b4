"""Models on which naive static int8 loses badly, for the accuracy-budgeted fallback search.

Each is the trained demo DigitsCNN with one function-preserving edit, so the float model keeps its accuracy
and only int8 suffers, each time in one small place while the rest of the network quantizes well:
  - `make_outlier_digits`: one activation channel scaled 100x (and the next conv scaled back): a per-tensor
    int8 scale sized for it leaves the other channels a handful of levels, as outlier features do in LLMs;
  - `make_sensitive_head_digits`: a pooled feature that is always zero gets huge classifier weights: float
    outputs do not change, but every per-channel weight scale of the classifier is set by those weights.
And one recurrent model, the trained conv + GRU AudioGRU (`edgec.models.audio`):
  - `make_saturated_gru`: one hidden unit saturates to a constant 1 (closed update gate, candidate tanh(20)),
    a bias-like unit as trained RNNs grow, and the head reads it through large weights offset by its bias.
    Int8 suffers twice: the head's weight scales (fatal) and the wide gate pre-activation range (noise).
    This edit does change the float function slightly (other units read the saturated one), so the float
    baseline is this edited model, as it would be for a user.
Data: the demo's digits splits (`edgec.models.digits_data.load_split`).
"""

from __future__ import annotations

import torch
from torch import nn

from .audio import HIDDEN, make_pretrained_audio
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


def make_saturated_gru() -> nn.Module:
    model = make_pretrained_audio()
    unit = HIDDEN - 1
    update, candidate = HIDDEN + unit, 2 * HIDDEN + unit  # rows of the gates r, z, n
    with torch.no_grad():
        for layer in (model.cell.x2h, model.cell.h2h):
            layer.weight[[update, candidate]] = 0.0
            layer.bias[[update, candidate]] = 0.0
        model.cell.x2h.bias[update] = -30.0  # z = sigmoid(-30): the unit always takes its candidate ...
        model.cell.x2h.bias[candidate] = 20.0  # ... n = tanh(20) = 1.0 in float32: the unit is always on
        model.head.weight[:, unit] = 300.0  # the head reads it with outlier weights, cancelled by its bias
        model.head.bias -= 300.0
    return model
