"""Executors: serial, local processes (joblib/loky), Ray."""

from evosearch.executors.base import Executor, Task, run_task
from evosearch.executors.processes import ProcessExecutor
from evosearch.executors.serial import SerialExecutor

__all__ = ["Executor", "ProcessExecutor", "SerialExecutor", "Task", "run_task"]
