"""Fine-tuning on labelled data: recover what pruning cost, when the user can give `--train data.npz`.

Refit (prune-channels' default recovery) matches each layer to the unpruned one on calibration data and needs
no labels; a few epochs of training on labels go further when a layer's lost capacity cannot be re-fitted
from the next one alone. The pass trains the pruned ONNX graph itself (compiler/onnx_torch.py) with Adam and a
cosine-decayed learning rate on cross-entropy, and writes the trained weights back into the same
initializers, so quantization and lowering see them like any other weights. Weights that are exactly zero
stay zero (their gradients are masked), so unstructured sparsity survives training too.

Cross-entropy needs logits: when the graph ends with a Softmax, the loss is taken on the Softmax's input.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..kinds import Model, OnnxModel
from ..process_setting import temporarily
from ..weight_edits import write
from .base import Context, Pass, PassResult


@dataclass(frozen=True)
class Finetune(Pass):
    name: ClassVar[str] = "finetune"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    uses_training: ClassVar[bool] = True
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "torch")

    epochs: int = 2
    learning_rate: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    keep_zeros: bool = True  # zero weights (unstructured pruning) stay zero
    # torch's intra-op threads while training. Its CPU kernels split reductions by thread count, so the trained
    # weights depend on it (1 and 2 threads give different artifacts); a fixed count, not the host's cores, makes
    # the same data give the same weights on machines with more or fewer cores. 1 was also faster on the demo.
    threads: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.threads < 1 or not self.learning_rate > 0:
            raise ValueError("epochs, batch_size and threads must be at least 1 and learning_rate positive")

    def run(self, model: Model, ctx: Context) -> PassResult:
        import torch

        from ..onnx_torch import OnnxModule

        assert isinstance(model, OnnxModel)
        data = ctx.training
        if data is None or data.labels is None:
            raise InputError(
                "finetune: needs labelled training data; pass --train data.npz with a `labels` array beside the inputs"
            )
        module = OnnxModule(model.proto)
        logits = _logits_name(model.proto)
        torch.manual_seed(self.seed)
        weights = [module.weight(n) for n in module.trainable]
        masks = [(w != 0).float() if self.keep_zeros and w.dim() > 1 and (w == 0).any() else None for w in weights]
        optimizer = torch.optim.Adam(weights, lr=self.learning_rate)
        inputs = [torch.from_numpy(np.asarray(data.inputs[name])) for name in module.input_names]  # epochs reread it
        labels = torch.from_numpy(data.labels.astype(np.int64))
        steps_per_epoch = math.ceil(len(data) / self.batch_size)
        total = self.epochs * steps_per_epoch
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total))
        )
        history: list[dict[str, float]] = []
        started = time.perf_counter()
        training_threads = temporarily(torch.get_num_threads, torch.set_num_threads, self.threads)
        with training_threads, ctx.progress.counter("finetune steps", total) as counter:
            for epoch in range(self.epochs):
                order = torch.from_numpy(np.random.default_rng(self.seed + epoch).permutation(len(data)))
                loss_sum, correct = 0.0, 0
                for start in range(0, len(data), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    out = module(*(x[batch] for x in inputs), until=logits)[0]
                    if out.dim() != 2:
                        raise InputError(
                            f"finetune: the model's output {logits!r} is shaped {tuple(out.shape)}; "
                            "fine-tuning trains classifiers with (batch, classes) logits"
                        )
                    loss = torch.nn.functional.cross_entropy(out, labels[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    with torch.no_grad():
                        for weight, mask in zip(weights, masks, strict=True):
                            if mask is not None:
                                weight.mul_(mask)
                    loss_sum += float(loss.detach()) * len(batch)
                    correct += int((out.argmax(1) == labels[batch]).sum())
                    counter.update()
                history.append(
                    {
                        "epoch": epoch + 1,
                        "loss": round(loss_sum / len(data), 5),
                        "running_accuracy": round(correct / len(data), 5),
                    }
                )
        proto, initializers = model.editable_copy()
        for name, weight in zip(module.trainable, weights, strict=True):
            write(initializers, name, weight.detach().numpy())
        details: dict[str, Any] = {
            "samples": len(data),
            "trained_tensors": len(weights),
            "trained_parameters": sum(w.numel() for w in weights),
            "masked_tensors": sum(m is not None for m in masks),
            "loss_on": logits,
            "history": history,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return PassResult(OnnxModel(proto), True, details)


def _logits_name(proto: Any) -> str:
    """The tensor cross-entropy should see: the graph's first output, or the input of the Softmax making it."""
    output = proto.graph.output[0].name
    producer = next((n for n in proto.graph.node if output in n.output), None)
    return producer.input[0] if producer is not None and producer.op_type == "Softmax" else output
