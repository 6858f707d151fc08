"""The agent's own smoke test: its tools and parser work (no LLM). Exit code 0 = healthy."""

import os
import sys
import tempfile

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from agent import loop, main, tools  # noqa: E402,F401


def run():
    with tempfile.TemporaryDirectory() as root:
        assert "wrote" in tools.write_file(root, "a.py", "x = 1\n")
        assert "1 x = 1" in tools.view_file(root, "a.py").replace("   ", "")
        assert tools.edit_file(root, "a.py", "x = 1", "x = 2") == "edited a.py"
        assert "exit code 0" in tools.run(root, "python3 -c 'print(3)'")
        calls = loop.parse_tool_calls('<tool name="view_file"><path>a.py</path></tool>')
        assert calls == [("view_file", {"path": "a.py"})]
        assert loop.call_tool(root, "view_file", {"path": "a.py"}).strip().endswith("x = 2")
        try:
            tools.view_file(root, "../../etc/passwd")
        except ValueError:
            pass
        else:
            raise AssertionError("paths outside the task directory must be refused")
    return True


if __name__ == "__main__":
    run()
    print("smoke test passed")
