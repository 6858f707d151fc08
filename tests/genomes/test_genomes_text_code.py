import pickle

import pytest

from evosearch.genomes.base import genome_from_json, genome_kinds
from evosearch.genomes.code import CodeGenome, check_path
from evosearch.genomes.text import TextGenome


def test_text_and_code_kinds_are_registered():
    kinds = genome_kinds()
    assert kinds["text"] is TextGenome and kinds["code"] is CodeGenome


def test_text_genome_round_trips_and_fingerprints_by_content():
    g = TextGenome("Classify the sentiment.")
    back = genome_from_json("text", g.to_json())
    assert back == g and back.fingerprint() == g.fingerprint()
    assert TextGenome("other").fingerprint() != g.fingerprint()
    assert g.summary().startswith("text[23]: Classify")


def test_code_genome_round_trips_through_json_and_pickle():
    g = CodeGenome({"main.py": "def run():\n    return 1\n", "./lib/util.py": "X = 1\n"})
    assert list(g.files) == ["lib/util.py", "main.py"]  # normalised and sorted
    for back in (genome_from_json("code", g.to_json()), pickle.loads(pickle.dumps(g))):
        assert back == g and back.fingerprint() == g.fingerprint()
    assert g.summary() == "code[2 file(s), 3 lines, entry main.py:run]"
    assert g.with_files({"lib/util.py": "X = 2\n"}).fingerprint() != g.fingerprint()


def test_code_genome_fingerprint_covers_the_entry_point():
    files = {"main.py": "def run(): pass\ndef alt(): pass\n"}
    assert CodeGenome(files, "main.py:run") != CodeGenome(files, "main.py:alt")


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.py", "a/../../x.py", "", "a\\b.py"])
def test_unsafe_paths_are_rejected(path):
    with pytest.raises(ValueError, match="path"):
        check_path(path)
    with pytest.raises(ValueError):
        CodeGenome({path: "x = 1\n", "main.py": "def run(): pass\n"})


def test_entry_must_name_a_file_of_the_program():
    with pytest.raises(ValueError, match="entry file 'other.py' is not among"):
        CodeGenome({"main.py": "def run(): pass\n"}, "other.py:run")
    with pytest.raises(ValueError, match="must look like"):
        CodeGenome({"main.py": "def run(): pass\n"}, "main.py")


def test_write_to_and_from_dir_round_trip(tmp_path):
    g = CodeGenome({"main.py": "def run(): pass\n", "pkg/helper.py": "Y = 2\n"})
    g.write_to(tmp_path / "prog")
    assert CodeGenome.from_dir(tmp_path / "prog") == g
    with pytest.raises(FileNotFoundError, match="no \\*.py files"):
        (tmp_path / "empty").mkdir()
        CodeGenome.from_dir(tmp_path / "empty")
