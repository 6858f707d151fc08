import pytest

from evosearch.genomes.code import CodeGenome
from evosearch.operators.code_edits import (
    EditError,
    apply_diff,
    check_syntax,
    parse_diff,
    parse_files,
)

PROGRAM = CodeGenome(
    {"main.py": "from lib import X\n\ndef run():\n    return X + 1\n", "lib.py": "X = 1\n"}
)


def block(search: str, replace: str, file: str | None = None) -> str:
    head = f"FILE: {file}\n" if file else ""
    return f"{head}<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_blocks_apply_to_the_named_file_or_the_entry_file():
    answer = "Raise both.\n" + block("X = 1\n", "X = 5\n", "lib.py") + "```\n"
    answer += block("    return X + 1\n", "    return X + 2\n", "main.py")
    answer += block("    return X + 2\n", "    return X * 2\n")  # no FILE: stays on main.py
    child = apply_diff(PROGRAM, parse_diff(answer))
    assert child.files["lib.py"] == "X = 5\n"
    assert child.files["main.py"].endswith("    return X * 2\n")


def test_unnamed_blocks_default_to_the_entry_file():
    child = apply_diff(PROGRAM, parse_diff(block("    return X + 1\n", "    return 0\n")))
    assert child.files["main.py"].endswith("return 0\n") and child.files["lib.py"] == "X = 1\n"


def test_empty_search_creates_a_new_file_but_not_over_an_existing_one():
    child = apply_diff(PROGRAM, parse_diff(block("", "Y = 2\n", "extra/y.py")))
    assert child.files["extra/y.py"] == "Y = 2\n"
    with pytest.raises(EditError, match="empty SEARCH for existing file 'lib.py'"):
        apply_diff(PROGRAM, parse_diff(block("", "X = 3\n", "lib.py")))


def test_search_text_must_match_exactly():
    with pytest.raises(EditError, match="block 1: SEARCH text not found in 'main.py'"):
        apply_diff(PROGRAM, parse_diff(block("    return X+1\n", "    return 3\n")))


def test_unknown_file_and_unsafe_file_names_are_errors():
    with pytest.raises(EditError, match="file 'nope.py' is not in the program"):
        apply_diff(PROGRAM, parse_diff(block("X = 1\n", "X = 2\n", "nope.py")))
    with pytest.raises(EditError, match="bad FILE line"):
        parse_diff(block("X = 1\n", "X = 2\n", "../../etc/x.py"))


def test_answers_without_complete_blocks_are_errors():
    with pytest.raises(EditError, match="no complete SEARCH/REPLACE block"):
        parse_diff("I would change the loop.")
    with pytest.raises(EditError, match="started but not closed"):
        parse_diff("<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n")


def test_whole_files_are_parsed_by_name_and_unnamed_go_to_the_entry():
    answer = (
        "FILE: lib.py\n```python\nX = 9\n```\nThen:\n```python\ndef run():\n    return 9\n```\n"
    )
    files = parse_files(answer, PROGRAM)
    assert files == {"lib.py": "X = 9\n", "main.py": "def run():\n    return 9\n"}
    with pytest.raises(EditError, match="no ```fenced``` code block"):
        parse_files("def run(): return 1", PROGRAM)


def test_syntax_check_names_file_and_line():
    with pytest.raises(EditError, match="main.py:2: syntax error"):
        check_syntax({"main.py": "def run():\nreturn 1\n", "notes.txt": "((("})
