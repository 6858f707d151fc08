"""A tiny code-evolution run shared by tests/tasks/test_code_evolution_run.py and the sandbox
escape tests: a one-function program, its evaluator and scripted LLM rewrites."""

EVALUATOR = """
import evosearch_eval
value = evosearch_eval.load_entry()()
evosearch_eval.report(float(value), {"value": float(value)}, f"run() returned {value}")
"""


def program(value) -> str:
    return f"def run():\n    return {value}\n"


def rewrite(value) -> str:
    return f"Return {value}.\n```python\n{program(value)}```\n"


def code_run_config(tmp_path, responses: list[str]) -> dict:
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "main.py").write_text(program(1))
    (tmp_path / "evaluator.py").write_text(EVALUATOR)
    llm = {"ref": "scripted", "params": {"responses": responses}}
    return {
        "name": "code-e2e",
        "seed": 1,
        "budget": {"generations": 3},
        "fitness": {
            "ref": "code.sandbox",
            "params": {"evaluator": str(tmp_path / "evaluator.py"), "limits": {"timeout": 20}},
        },
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 2,
                "init": {"ref": "code.from_dir", "params": {"path": str(tmp_path / "prog")}},
                "operators": [{"ref": "llm.rewrite", "params": {"llm": llm, "inspirations": 1}}],
                "archive": {"ref": "population", "params": {"size": 4}},
            },
        },
    }
