"""The data a compile reads, loaded and checked against the baseline's inputs before any pass runs.

The calibration, evaluation and training sets each come from a flag (`--calib`, `--eval`, `--train`) or, for
the built-in demo, from its own splits; every check that can fail on user input runs here, first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .data import Dataset, check_dataset, load_dataset
from .errors import InputError
from .kinds import OnnxModel, TensorSpec
from .streaming import state_pairs, streamed

if TYPE_CHECKING:
    from .compile_options import CompileOptions
    from .pipeline import ArtifactPlan


def datasets(options: CompileOptions, baseline: OnnxModel, plans: list[ArtifactPlan]) -> tuple[Dataset | None, Dataset]:
    """The calibration and evaluation sets; with recurrent states declared (`--state`), the files hold the other
    inputs and each set is streamed through the float model for its states (streaming.py)."""
    states = state_pairs(baseline, options.states)
    fed_back = {name for _, name in states}
    specs = [spec for spec in baseline.inputs if spec.name not in fed_back]
    calibration, evaluation = _loaded(options, specs, plans)
    if states:
        calibration = streamed(calibration, baseline, states, 1) if calibration is not None else None
        evaluation = streamed(evaluation, baseline, states, 1)
    return calibration, evaluation


def _loaded(
    options: CompileOptions, specs: list[TensorSpec], plans: list[ArtifactPlan]
) -> tuple[Dataset | None, Dataset]:
    needs_calibration = any(p.uses_calibration for plan in plans for p in plan.passes)
    if options.source is None and options.calib is None and options.eval is None:
        from .frontends.demo import demo_split

        return check_dataset(demo_split("calib"), specs), check_dataset(demo_split("eval"), specs)
    calibration = load_dataset(options.calib, specs, "calib") if options.calib else None
    evaluation = load_dataset(options.eval, specs, "eval") if options.eval else None
    if evaluation is None:
        if calibration is None:
            raise InputError(
                "no data: pass --calib data.npz (calibration; part of it is held back for "
                "evaluation) and preferably --eval data.npz"
            )
        calibration, evaluation = calibration.split_holdout(options.holdout)
    if needs_calibration and calibration is None:
        raise InputError("quantization needs calibration data: pass --calib data.npz, or --no-quantize")
    return calibration, evaluation


def training_data(options: CompileOptions, baseline: OnnxModel) -> Dataset | None:
    """Labelled training data for fine-tuning: --train, or for the demo its own training split."""
    if not options.recover_epochs:  # compile() has already refused --recover-epochs without --prune
        return None
    if options.train is None:
        if options.source is not None:
            raise InputError("--recover-epochs: fine-tuning needs labelled training data: pass --train data.npz")
        from .frontends.demo import demo_split

        return check_dataset(demo_split("train"), baseline.inputs)
    training = load_dataset(options.train, baseline.inputs, "train")
    if training.labels is None:
        raise InputError(f"--train {options.train}: no `labels` array; fine-tuning needs one label per sample")
    return training
