"""We test the reconciler against a stateful model (docs/reliability.md S22): Hypothesis runs
random schedules of pods, crashes, faults, time, out-of-band cloud acts, user PodEIPs, sweeps
and drains on the in-process harness, and checks the invariants of ``model.py`` after every
step. ``PODEIP_MODEL_PROFILE=long`` (``make model-long``) runs deeper."""

from __future__ import annotations

from .model import OperatorModel, profile

TestOperatorModel = OperatorModel.TestCase
TestOperatorModel.settings = profile()
