"""Helpers for evaluator scripts and test harnesses run by the evosearch sandbox.

The sandbox puts this file, read-only, beside the evaluator as ``evosearch_eval.py``
(stdlib only; no evosearch install needed).

Protocol: the evaluator reads the job (``job()``), calls the candidate through
``load_entry()`` and reports ONE verdict with ``report(score, ...)``. The candidate never
runs in the evaluator's process: ``load_entry()`` returns a function that calls it in a
separate process and gets its return value back as data (JSON of numbers, strings, lists,
tuples, dicts, sets, bytes; numpy arrays arrive as lists). The verdict goes to the engine on
a descriptor this module takes at import and the candidate's process never holds, tagged
with a per-evaluation nonce; whatever the candidate prints is feedback, never a score.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types

MAX_ANSWER = 64 * 2**20  # bytes of one return value
_SIGNALS = {24: "SIGXCPU: CPU time limit exceeded", 25: "SIGXFSZ: file size limit exceeded",
            9: "SIGKILL: memory or CPU hard limit, or killed"}


def _take_channel():
    fd = os.environ.pop("EVOSEARCH_VERDICT_FD", None)
    nonce = os.environ.pop("EVOSEARCH_NONCE", "")
    if fd is None:
        return None, nonce
    fd = int(fd)
    os.set_inheritable(fd, False)
    try:  # non-dumpable: a process of the same uid cannot ptrace us or open our fds
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError, ImportError):
        pass
    return fd, nonce


_VERDICT_FD, _NONCE = _take_channel()


def _forget_channel():
    """In the candidate's process: no verdict descriptor, no nonce, no proxy finders."""
    global _VERDICT_FD, _NONCE
    if _VERDICT_FD is not None:
        os.close(_VERDICT_FD)
    _VERDICT_FD, _NONCE = None, ""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RemoteFinder)]
    for name in [n for n, m in sys.modules.items() if isinstance(m, _RemoteModule)]:
        del sys.modules[name]


def job():
    """The job: ``{"stage", "stages", "entry", "seed", "params"}``.

    ``stage`` counts from 1; ``stages`` is how many the config has (the last is the full
    evaluation); ``entry`` is ``file.py:function``; ``params`` is ``fitness.params.params``.
    """
    return json.loads(os.environ["EVOSEARCH_JOB"])


def program_dir():
    """The directory holding the candidate's files."""
    return os.environ.get("EVOSEARCH_PROGRAM_DIR", os.getcwd())


class CandidateError(RuntimeError):
    """The candidate raised, died, or answered something that is not data."""


class Candidate:
    """The candidate's process: imports its modules and runs calls sent to it.

    Forked from the evaluator (no second interpreter start, no second numpy import); the
    child closes the verdict descriptor and forgets the nonce before touching candidate
    code, and the evaluator is non-dumpable, so nothing it holds can be reached.
    """

    def __init__(self, root):
        self.root = root
        self.pid = 0

    def _start(self):
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(self.req_w)
                os.close(self.resp_r)
                _forget_channel()
                os.chdir(self.root)
                _serve(self.root, req_r, resp_w)
            except BaseException:  # noqa: BLE001 - the candidate's process ends here, always
                code = 1
            os._exit(code)
        self.pid = pid
        os.close(req_r)
        os.close(resp_w)
        self.answers = os.fdopen(self.resp_r, "rb")

    def _exit_code(self):
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def call(self, module, func, args, kwargs, file=None):
        if not self.pid:
            self._start()
        req = {"module": module, "file": file, "func": func, "args": encode(list(args))}
        req["kwargs"] = encode(dict(kwargs))
        try:
            os.write(self.req_w, (json.dumps(req) + "\n").encode())
        except OSError:
            pass
        line = self.answers.readline(MAX_ANSWER + 1)
        if not line.endswith(b"\n"):
            if len(line) > MAX_ANSWER:
                raise CandidateError(f"the candidate's answer is over {MAX_ANSWER} bytes")
            code = self._exit_code()
            how = _SIGNALS.get(-code, f"killed by signal {-code}") if code < 0 else f"exit {code}"
            raise CandidateError(f"the candidate's process ended without answering ({how})")
        try:
            answer = json.loads(line)
            if not isinstance(answer, dict) or "ok" not in answer:
                raise ValueError("not an answer")
            if not answer["ok"]:
                raise CandidateError(str(answer.get("error", "the candidate raised")))
            return decode(answer.get("value"))
        except (ValueError, TypeError, RecursionError) as exc:
            raise CandidateError(f"the candidate's answer is not data: {exc}") from None


_CANDIDATES = {}


def _candidate(root):
    if root not in _CANDIDATES:
        _CANDIDATES[root] = Candidate(root)
    return _CANDIDATES[root]


class RemoteFunction:
    """A function of the candidate, called in the candidate's process."""

    def __init__(self, root, module, func, file=None):
        self.root, self.module, self.func, self.file = root, module, func, file
        self.__name__ = func

    def __call__(self, *args, **kwargs):
        return _candidate(self.root).call(self.module, self.func, args, kwargs, self.file)


def load_entry(entry=None):
    """The candidate's entry function (``file.py:function``; default: the job's entry).

    Calling it runs the candidate in its own process and returns its result as data.
    """
    entry = entry or job()["entry"]
    path, _, func = entry.partition(":")
    name = os.path.splitext(path)[0].replace("/", ".")
    return RemoteFunction(program_dir(), name, func, path)


class _RemoteModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return RemoteFunction(self.__dict__["_root"], self.__name__, attr)


class _RemoteFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, prefixes, root):
        self.prefixes, self.root = tuple(prefixes), root

    def find_spec(self, name, path=None, target=None):
        if not any(name == p or name.startswith(p + ".") for p in self.prefixes):
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = _RemoteModule(spec.name)
        module.__dict__["_root"] = self.root
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def remote_modules(prefixes, root=None):
    """Make ``import X`` (X in ``prefixes``, or below) give the candidate's module by proxy.

    For test harnesses: ``from solution import f`` then runs ``f`` in the candidate's
    process, so what the candidate does at import or in a call cannot touch the harness.
    """
    sys.meta_path.insert(0, _RemoteFinder(prefixes, root or os.getcwd()))


def verdict(record):
    """Send one verdict record (a dict) to the engine on the trusted channel.

    Outside the sandbox (an evaluator run by hand) there is no channel: the record is
    printed instead, for a person to read; the engine never reads stdout.
    """
    if _VERDICT_FD is None:
        print(json.dumps(record, allow_nan=True))
        return
    line = json.dumps({**record, "nonce": _NONCE}, allow_nan=True) + "\n"
    os.write(_VERDICT_FD, line.encode())


def report(score, metrics=None, feedback="", descriptors=None):
    """Report the evaluation's result (score is maximised) on the verdict channel."""
    line = {"score": float(score), "metrics": dict(metrics or {}), "feedback": str(feedback)}
    if descriptors is not None:
        line["descriptors"] = [float(d) for d in descriptors]
    verdict(line)


def encode(value, depth=0):
    """Plain data as JSON-safe tagged values (tuples, sets, bytes and dict keys kept)."""
    if depth > 100:
        raise TypeError("nested too deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__t": [encode(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__s": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"__d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"__b": bytes(value).hex()}
    if isinstance(value, complex):
        return {"__c": [value.real, value.imag]}
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return encode(value.tolist(), depth + 1)
    raise TypeError(f"cannot pass a {type(value).__name__}: return plain data")


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (tag, body), = value.items()
        if tag == "__t":
            return tuple(decode(v) for v in body)
        if tag == "__s":
            return {decode(v) for v in body}
        if tag == "__d":
            return {_key(decode(k)): decode(v) for k, v in body}
        if tag == "__b":
            return bytes.fromhex(body)
        if tag == "__c":
            return complex(*body)
    if isinstance(value, dict):
        raise ValueError("untagged object")
    return value


def _key(k):
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


def _serve(root, req_fd, resp_fd):
    """The candidate's side: answer calls until the pipe closes."""
    sys.path.insert(0, root)
    requests = os.fdopen(req_fd, "rb")
    for line in requests:
        try:
            req = json.loads(line)
            if req.get("file"):
                spec = importlib.util.spec_from_file_location(
                    req["module"], os.path.join(root, req["file"])
                )
                module = sys.modules.get(req["module"])
                if module is None:
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[req["module"]] = module
                    spec.loader.exec_module(module)
            else:
                module = importlib.import_module(req["module"])
            fn = getattr(module, req["func"])
            value = fn(*decode(req["args"]), **decode(req["kwargs"]))
            answer = {"ok": True, "value": encode(value)}
        except BaseException as exc:  # noqa: BLE001 - any failure is the candidate's answer
            import traceback

            answer = {"ok": False, "error": "".join(traceback.format_exception(exc, limit=-3))}
        os.write(resp_fd, (json.dumps(answer) + "\n").encode())

