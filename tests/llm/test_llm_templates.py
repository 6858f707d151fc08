import importlib.resources

import pytest

from evosearch.llm import templates

ALL = sorted(
    p.name[:-4]
    for p in (importlib.resources.files("evosearch.llm") / "prompts").iterdir()
    if p.name.endswith(".txt")
)


def test_templates_ship_as_package_data():
    assert {"code_diff", "code_rewrite", "code_crossover", "prompt_ga", "prompt_de"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_template_renders_with_exactly_its_fields(name):
    fields = templates.fields(name)
    text = templates.render(name, **{f: f"<{f}>" for f in fields})
    assert all(f"<{f}>" in text for f in fields)
    if fields:
        with pytest.raises(templates.TemplateError, match="missing"):
            templates.render(name)
    with pytest.raises(templates.TemplateError, match="unexpected \\['bogus'\\]"):
        templates.render(name, bogus=1, **{f: "" for f in fields})


def test_field_values_are_not_reformatted():
    text = templates.render("code_file", path="a.py", text="d = {'k': 1}  # {not_a_field}")
    assert "d = {'k': 1}  # {not_a_field}" in text


def test_unknown_template_names_the_known_ones():
    with pytest.raises(templates.TemplateError, match="known: .*code_diff"):
        templates.load("nope")
