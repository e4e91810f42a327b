"""``grade plot``: every picture is drawn as a valid PNG from the learner's code run in the runner.

matplotlib is an optional extra (``pip install -e ".[plot]"``, also in the ``test``
extra); without it these tests are skipped, except the one proving that the command then
says how to install it.
"""
import sys

import pytest
from click.testing import CliRunner

from grader import cli
from helpers import EXERCISES, SOLUTIONS, submission

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def plot(*args):
    return CliRunner().invoke(cli.main, ["plot", *args], catch_exceptions=False)


def assert_png(path, min_size=(400, 300)):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    image = matplotlib.image.imread(str(path))
    height, width = image.shape[:2]
    assert width >= min_size[0] and height >= min_size[1]
    assert image.std() > 0.05, "the picture is blank"
    return image


@pytest.mark.parametrize("exercise, expected", [
    ("gradient_descent", "your fit_line reaches y = "),
    ("activations", "relu: yours matches; sigmoid: yours matches; softmax: yours matches"),
    ("derivatives", "derivative off by at most"),
    ("mlp", "held-out accuracy: two half-moons"),
])
def test_each_picture_is_a_valid_png(tmp_path, exercise, expected):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{exercise}.png"
    result = plot(exercise, "--source", str(SOLUTIONS), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and expected in result.output
    assert_png(out)


def test_a_wrong_function_is_drawn_and_described(tmp_path):
    pytest.importorskip("matplotlib")
    folder = submission(tmp_path / "sub", "activations", replace={"sigmoid": """
        def sigmoid(x):
            return 1 / (1 + np.exp(x))  # the sign in the exponent flipped
    """})
    out = tmp_path / "a.png"
    result = plot("activations", "--source", str(folder), "--out", str(out))
    assert result.exit_code == 0
    assert "relu: yours matches" in result.output and "sigmoid: yours differs by up to" in result.output
    assert_png(out)


def test_unwritten_functions_leave_the_reference_and_a_note(tmp_path):
    pytest.importorskip("matplotlib")
    folder = submission(tmp_path / "stubs", "derivatives", base=EXERCISES)
    out = tmp_path / "d.png"
    result = plot("derivatives", "--source", str(folder), "--out", str(out))
    assert result.exit_code == 1
    assert "derivative is not written yet" in result.output
    assert_png(out)


def test_without_matplotlib_the_command_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = plot("mlp", "--source", str(SOLUTIONS), "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert 'pip install -e ".[plot]"' in result.output  # stderr, which CliRunner mixes in
    assert not (tmp_path / "x.png").exists()


def test_unknown_or_unplottable_exercise_is_a_usage_error(tmp_path):
    result = plot("vectors", "--source", str(SOLUTIONS), "--out", str(tmp_path / "v.png"))
    assert result.exit_code == 2 and "Pictures exist for: gradient_descent, mlp, activations, derivatives" in result.output
    result = plot("gradient_decent", "--out", str(tmp_path / "v.png"))
    assert result.exit_code == 2 and "Did you mean 'gradient_descent'" in result.output
