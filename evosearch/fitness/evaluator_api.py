"""Helpers for evaluator scripts run by the evosearch sandbox.

The sandbox copies this file next to the evaluator as ``evosearch_eval.py``, so an evaluator
can ``import evosearch_eval`` without evosearch installed (it imports only the stdlib).

Protocol: the evaluator reads the job (``job()``: stage, entry, seed, params), loads the
candidate (``load_entry()``), and prints ONE JSON object line with at least ``score``
(``report(...)``). The last stdout line that parses as a JSON object with ``score`` wins.
"""

import importlib.util
import json
import os
import sys


def job():
    """The job: ``{"stage", "stages", "entry", "seed", "params"}``.

    ``stage`` counts from 1; ``stages`` is how many the config has (the last is the full
    evaluation); ``entry`` is ``file.py:function``; ``params`` is ``fitness.params.params``.
    """
    return json.loads(os.environ["EVOSEARCH_JOB"])


def program_dir():
    """The directory holding the candidate's files."""
    return os.environ["EVOSEARCH_PROGRAM_DIR"]


def load_entry(entry=None):
    """Import the candidate's entry file and return its entry function.

    Args:
        entry: ``file.py:function``; defaults to the job's entry.
    """
    entry = entry or job()["entry"]
    path, _, func = entry.partition(":")
    root = program_dir()
    if root not in sys.path:
        sys.path.insert(0, root)
    name = os.path.splitext(path)[0].replace("/", ".")
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, func)


def report(score, metrics=None, feedback="", descriptors=None):
    """Print the result line the sandbox reads (score is maximised)."""
    line = {"score": float(score), "metrics": dict(metrics or {}), "feedback": str(feedback)}
    if descriptors is not None:
        line["descriptors"] = [float(d) for d in descriptors]
    sys.stdout.write("\n" + json.dumps(line) + "\n")
    sys.stdout.flush()
