"""The DGM test setup shared by tests/tasks/test_dgm.py and the sandbox escape tests.

Scripted "models" (the test-only ``scripted`` LLM backend) that fix repair tasks, diagnose
and edit the agent, and the tiny DGM run config they drive.
"""

import json

_REPAIRS = [
    ("return sum(xs) / (len(xs) - 1)", "return sum(xs) / len(xs)"),
    ("return max(lo, min(x, lo))", "return max(lo, min(x, hi))"),
    ("return len(text.split(' ')) if text else 0", "return len(text.split()) if text else 0"),
    ("for _ in range(n - 1):", "for _ in range(n):"),
    ("return sorted(set(xs))", "return list(dict.fromkeys(xs))"),
]
# A scripted "model" that tries the fix of every generated repair task (edits whose old text
# is absent fail harmlessly inside the agent).
FIX = "".join(
    f'<tool name="edit_file"><path>stats/core.py</path><old>{old}</old><new>{new}</new></tool>\n'
    for old, new in _REPAIRS
) + "<done/>"
DIAGNOSIS = json.dumps(
    {"problem_description": "The agent gives up too early.",
     "implementation_suggestion": "Raise max_steps from 6 to 8."}
)
SELF_EDIT = (
    '<tool name="edit_file"><path>agent/loop.py</path>'
    "<old>def run_agent(root, task, max_steps=6,</old>"
    "<new>def run_agent(root, task, max_steps=8,</new></tool>\n<done/>"
)
BREAK_SELF = (
    '<tool name="write_file"><path>agent/tools.py</path><content>this is not python'
    "</content></tool>\n<done/>"
)


def scripted(respond: str) -> dict:
    return {"ref": "scripted", "params": {"respond": respond}}


def respond_fixing(request):
    """A scripted model: fixes the mean() repair, diagnoses, and edits the agent's loop."""
    text = request.messages[-1].content
    if "Diagnose why the agent failed" in text:
        return DIAGNOSIS
    if "Improve that code as described below" in text:
        return SELF_EDIT
    if "stats/core.py" in text and "Files in the task directory" in text:
        return FIX
    return "<done/>"


def respond_breaking(request):
    text = request.messages[-1].content
    if "Diagnose why the agent failed" in text:
        return DIAGNOSIS
    if "Improve that code as described below" in text:
        return BREAK_SELF
    return "<done/>"


def dgm_config(respond: str, generations: int = 1, **fitness_extra) -> dict:
    llm = scripted(respond)
    return {
        "name": "dgm-test",
        "seed": 0,
        "budget": {"generations": generations},
        "fitness": {
            "ref": "dgm.coding",
            "timeout": 600,
            "params": {"llm": llm, "task_set": "repair", "stages": [2, 2], "threshold": 0.5,
                       "agent_limits": {"timeout": 60}, "check_limits": {"timeout": 20},
                       **fitness_extra},
        },
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 1,
                "init": {"ref": "dgm.initial_agent"},
                "init_size": 1,
                "selector": {"ref": "dgm.score_child_prop"},
                "operators": [{"ref": "dgm.self_improve",
                               "params": {"llm": llm, "limits": {"timeout": 60}}}],
                "archive": {"ref": "dgm", "params": {"mode": "keep_all"}},
            },
        },
    }
