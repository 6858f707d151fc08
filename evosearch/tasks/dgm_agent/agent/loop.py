"""The agent loop: the LLM answers with tool calls, the agent runs them and reports back."""

import re

from agent import llm, tools

SYSTEM = """You are a careful coding agent working in a task directory.
Use tools by writing blocks exactly like these (one or more per answer):
<tool name="view_file"><path>PATH</path></tool>
<tool name="edit_file"><path>PATH</path><old>EXACT OLD TEXT</old><new>NEW TEXT</new></tool>
<tool name="write_file"><path>PATH</path><content>FULL FILE TEXT</content></tool>
<tool name="run"><command>SHELL COMMAND</command></tool>
When the task is complete, answer <done/>."""

_TOOL = re.compile(r'<tool name="(\w+)">(.*?)</tool>', re.S)
_ARG = re.compile(r"<(\w+)>(.*?)</\1>", re.S)


def parse_tool_calls(text):
    """The tool calls in an answer, as (name, {arg: value}) pairs."""
    return [(name, dict(_ARG.findall(body))) for name, body in _TOOL.findall(text)]


def call_tool(root, name, args):
    try:
        if name == "view_file":
            return tools.view_file(root, args["path"])
        if name == "edit_file":
            return tools.edit_file(root, args["path"], args["old"], args["new"])
        if name == "write_file":
            return tools.write_file(root, args["path"], args["content"])
        if name == "run":
            return tools.run(root, args["command"])
        return f"error: unknown tool {name!r}"
    except KeyError as exc:
        return f"error: tool {name!r} is missing argument {exc}"
    except (OSError, ValueError) as exc:
        return f"error: {exc}"


def run_agent(root, task, max_steps=6, max_tokens=768, temperature=0.7, log=print):
    """Work on ``task`` in directory ``root``; returns a summary dict."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]
    steps = calls = 0
    for steps in range(1, max_steps + 1):
        reply, error = llm.chat(messages, max_tokens=max_tokens, temperature=temperature)
        if error:
            log(f"[step {steps}] LLM error: {error}")
            break
        log(f"[step {steps}] assistant:\n{reply[:1500]}")
        messages.append({"role": "assistant", "content": reply})
        found = parse_tool_calls(reply)
        if not found:
            break
        results = []
        for name, args in found:
            calls += 1
            out = call_tool(root, name, args)
            log(f"[step {steps}] {name} -> {out[:500]}")
            results.append(f"[{name}]\n{out}")
        if "<done/>" in reply:
            break
        messages.append({"role": "user", "content": "\n\n".join(results)})
    return {"steps": steps, "tool_calls": calls}
