"""lstm_core.zoo: one name per model, and what a picker reads of it without building one."""
import pytest

from lstm_core import zoo


@pytest.mark.parametrize("name", zoo.ARCHITECTURES)
def test_declaration_without_a_model_is_the_models(name):
    model = zoo.build(name, 3, 4, seed=0)
    assert zoo.declaration(name) == model.declaration and zoo.architecture_of(model) == name
    assert zoo.declaration(name).summary  # the model picker's caption


def test_declaration_names_what_it_knows():
    assert zoo.declaration("gru").title == "GRU" and zoo.declaration("coupled").family == "lstm"
    with pytest.raises(ValueError, match=r"variant: unknown name 'lstm'; expected one of standard, .*, gru$"):
        zoo.declaration("lstm")
