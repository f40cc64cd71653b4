"""Recurrent models as the device runs them: one step at a time, each state output fed back into its input.

A streaming detector (audio chunk and a recurrent state in; a probability and the next state out) passed its
gate at "agreement 100%" while its int8 artifact, run the way the device loop runs it, had lost the detector
(F1 0.036 against 0.972). Evaluated a batch at a time with recorded states, every step starts again from the
float model's state, so an error that grows through the recurrence never shows.

With `--state OUT=IN` (one per state) the data files hold the other inputs only, one row per step, in order.
edgec then
  - streams the float baseline over each set from a zero state and records the state it fed at every step:
    those rows become the state input's data, so calibration sees the states the model really meets;
  - streams the float baseline and every artifact (ONNX Runtime, LiteRT, emulated or not) on their *own*
    states to judge them (runtimes/runner.run_streaming): the float model is the reference sequence, each
    artifact free-runs.
The judged output is the first output that is not a state. States must have their batch on axis 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..runtimes import open_runner
from ..runtimes.runner import run_streaming
from .data import Dataset
from .errors import InputError
from .kinds import OnnxModel, TensorSpec


def state_pairs(baseline: OnnxModel, declared: tuple[tuple[str, str], ...]) -> tuple[tuple[int, str], ...]:
    """The declared (output name, input name) pairs as (output index, input name), each checked against the
    float baseline: both exist, the input's batch is on axis 0, and the output has the input's per-step shape."""
    outputs = {spec.name: (index, spec) for index, spec in enumerate(baseline.outputs)}
    inputs = {spec.name: spec for spec in baseline.inputs}
    pairs = []
    for output, state_input in declared:
        if output not in outputs:
            raise InputError(f"--state {output}={state_input}: the model has no output {output!r}; its outputs: "
                             f"{', '.join(outputs)}")  # fmt: skip
        if state_input not in inputs:
            raise InputError(f"--state {output}={state_input}: the model has no input {state_input!r}; its "
                             f"inputs: {', '.join(inputs)}")  # fmt: skip
        index, produced = outputs[output]
        _check_batch_first(inputs[state_input], produced, output)
        pairs.append((index, state_input))
    if len(pairs) >= len(outputs):
        raise InputError("--state: every output is a state; one output must be what the model computes")
    return tuple(pairs)


def streamed(dataset: Dataset, baseline: OnnxModel, states: tuple[tuple[int, str], ...], threads: int) -> Dataset:
    """`dataset` (the other inputs, one row per step) with each state input's rows filled by the float model's
    own states, streamed from zero, and marked to be streamed wherever it is run."""
    specs = {spec.name: spec for spec in baseline.inputs}
    inputs = dict(dataset.inputs)
    for _, name in states:
        shape = tuple(int(d) for d in specs[name].shape)
        inputs[name] = np.zeros((len(dataset), *shape), dtype=np.dtype(specs[name].dtype))
    runner = open_runner(
        "onnxruntime", baseline.to_bytes(), threads=threads
    )  # imported here: `edgec --help` stays light
    outputs = run_streaming(runner, inputs, states)
    for index, name in states:  # the state fed at step i: zero at the start, then the output of step i - 1
        fed = np.concatenate([inputs[name][:1], outputs[index][:-1].astype(inputs[name].dtype)])
        inputs[name] = fed.reshape(inputs[name].shape)
    return dataclasses.replace(dataset, inputs=inputs, states=states)


def _check_batch_first(state: TensorSpec, produced: TensorSpec, output: str) -> None:
    where = f"--state {output}={state.name}"
    if not all(isinstance(d, int) for d in state.shape):
        raise InputError(f"{where}: the state input's shape {state.shape} is not fixed; export it with static sizes")
    if state.batch not in (None, 1) and not isinstance(state.batch, str):
        raise InputError(
            f"{where}: the state's leading dimension is {state.batch}, not the batch; edgec streams states whose "
            "batch is on axis 0 (a [layers, batch, hidden] state: transpose it inside the exported model)"
        )
    if tuple(produced.shape) != tuple(state.shape):
        raise InputError(
            f"{where}: the output's per-step shape {produced.shape} is not the input's {state.shape}; "
            "name the output that is fed back into this input"
        )
