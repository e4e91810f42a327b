"""Part 2, PyTorch half: the checks of ``backprop`` and ``mlp``.

A torch exercise is graded in one learner process (starting PyTorch costs about a second),
so each planted module redefines *every* function at once, each with its own mistake, and
each mistake must be caught by the check the table names. The redefined two_layer_backward
never calls the (wrong) functions beside it, so every verdict stays about one mistake.
"""
import textwrap

import pytest

pytest.importorskip("torch")

from helpers import assert_full_marks, failing, grade_exercise, submission, summary  # noqa: E402

# ----------------------------------------------------------------------------- backprop

# Each group: {function: (planted source, the check that must fail)}.
BACKPROP_MISTAKES = {
    "transposed_dW_relu_ge_mean_over_rows_autograd": {
        "linear_backward": ("""
            def linear_backward(dy, x, W):
                return dy @ W, x.T @ dy, dy.sum(0)  # dW transposed
            """, "matches_autograd"),
        "relu_backward": ("""
            def relu_backward(dy, x):
                return dy * (x >= 0)  # lets the gradient through at exactly 0
            """, "zero_gradient_at_zero"),
        "mse_backward": ("""
            def mse_backward(y_pred, y):
                return 2 * (y_pred - y) / y_pred.shape[0]  # a mean over rows, not all elements
            """, "matches_autograd"),
        "two_layer_backward": ("""
            def two_layer_backward(x, y, W1, b1, W2, b2):
                with torch.enable_grad():  # autograd does the work
                    params = [t.clone().requires_grad_() for t in (W1, b1, W2, b2)]
                    h = x @ params[0].T + params[1]
                    loss = ((h.relu() @ params[2].T + params[3] - y) ** 2).mean()
                    loss.backward()
                return dict(zip(("W1", "b1", "W2", "b2"), (p.grad for p in params)))
            """, "computes_gradients_by_hand"),
    },
    "db_mean_in_place_relu_no_two_no_mask": {
        "linear_backward": ("""
            def linear_backward(dy, x, W):
                return dy @ W, dy.T @ x, dy.mean(0)  # db averages instead of adding up
            """, "matches_autograd"),
        "relu_backward": ("""
            def relu_backward(dy, x):
                dy[x <= 0] = 0  # writes into the caller's tensor
                return dy
            """, "leaves_inputs_unchanged"),
        "mse_backward": ("""
            def mse_backward(y_pred, y):
                return (y_pred - y) / y_pred.numel()  # the factor 2 is missing
            """, "matches_autograd"),
        "two_layer_backward": ("""
            def two_layer_backward(x, y, W1, b1, W2, b2):
                h = x @ W1.T + b1
                a = h.clamp(min=0)
                dy = 2 * (a @ W2.T + b2 - y) / y.numel()
                dh = dy @ W2  # forgets ReLU's mask on the way back
                return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dy.T @ a, "b2": dy.sum(0)}
            """, "matches_autograd"),
    },
    "float64_out_autograd_relu_sign_missing_keys": {
        "linear_backward": ("""
            def linear_backward(dy, x, W):
                dy, x, W = dy.double(), x.double(), W.double()  # float32 in, float64 out
                return dy @ W, dy.T @ x, dy.sum(0)
            """, "keeps_dtype_and_device"),
        "relu_backward": ("""
            def relu_backward(dy, x):
                x = x.clone().requires_grad_()
                with torch.enable_grad():
                    torch.relu(x).backward(dy)
                return x.grad
            """, "computes_gradients_by_hand"),
        "mse_backward": ("""
            def mse_backward(y_pred, y):
                return 2 * (y - y_pred) / y_pred.numel()  # the sign is flipped
            """, "matches_autograd"),
        "two_layer_backward": ("""
            def two_layer_backward(x, y, W1, b1, W2, b2):
                h = x @ W1.T + b1
                a = h.clamp(min=0)
                dy = 2 * (a @ W2.T + b2 - y) / y.numel()
                dh = (dy @ W2) * (h > 0)
                return {"W1": dh.T @ x, "W2": dy.T @ a}  # the biases are left out
            """, "matches_autograd"),
    },
}

BACKPROP_RIGHT = {
    "einsum_and_where": {
        "linear_backward": """
            def linear_backward(dy, x, W):
                return (torch.einsum("no,oi->ni", dy, W), torch.einsum("no,ni->oi", dy, x),
                        torch.einsum("no->o", dy))
            """,
        "relu_backward": """
            def relu_backward(dy, x):
                return torch.where(x > 0, dy, torch.zeros_like(dy))
            """,
        "mse_backward": """
            def mse_backward(y_pred, y):
                return (y_pred - y).mul(2).div(y_pred.numel())
            """,
        "two_layer_backward": """
            def two_layer_backward(x, y, W1, b1, W2, b2):
                h = x @ W1.T + b1
                a = torch.where(h > 0, h, torch.zeros_like(h))
                dy = 2 * (a @ W2.T + b2 - y) / y.numel()
                dh = torch.where(h > 0, dy @ W2, torch.zeros_like(h))
                return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dy.T @ a, "b2": dy.sum(0)}
            """,
    },
    "transposes_and_ones": {  # two_layer_backward stays the reference's, chaining these
        "linear_backward": """
            def linear_backward(dy, x, W):
                ones = torch.ones(dy.shape[0], dtype=dy.dtype, device=dy.device)
                return (W.T @ dy.T).T, (x.T @ dy).T, ones @ dy
            """,
        "relu_backward": """
            def relu_backward(dy, x):
                return dy * (x > 0).to(dy.dtype)
            """,
        "mse_backward": """
            def mse_backward(y_pred, y):
                n = 1
                for size in y_pred.shape:
                    n *= size
                return 2.0 * (y_pred - y) / n
            """,
    },
}


@pytest.mark.parametrize("group", BACKPROP_MISTAKES, ids=str)
def test_backprop_mistakes_are_caught_by_the_named_check(group, tmp_path):
    planted = BACKPROP_MISTAKES[group]
    folder = submission(tmp_path, "backprop", replace={fn: src for fn, (src, _) in planted.items()})
    result = grade_exercise(folder, "backprop")
    assert result.status == "failed", summary(result)
    for function, (_, check) in planted.items():
        assert (function, check) in failing(result), f"{function}: {check} should fail\n{summary(result)}"


def test_a_function_that_uses_autograd_earns_nothing(tmp_path):
    """Autograd (or code the policy cannot read) fails every check of that function, naming
    the line; the other functions keep their points."""
    planted = BACKPROP_MISTAKES["transposed_dW_relu_ge_mean_over_rows_autograd"]["two_layer_backward"][0]
    result = grade_exercise(submission(tmp_path, "backprop", replace={"two_layer_backward": planted}), "backprop")
    mine = [c for c in result.checks if c.function == "two_layer_backward"]
    assert mine and not any(c.passed for c in mine), summary(result)
    assert all("used autograd" in c.message and "line" in c.message for c in mine), summary(result)
    assert all(c.passed for c in result.checks if c.function != "two_layer_backward"), summary(result)


@pytest.mark.parametrize("group", BACKPROP_RIGHT, ids=str)
def test_backprop_right_answers_written_differently_score_full(group, tmp_path):
    assert_full_marks(grade_exercise(submission(tmp_path, "backprop", replace=BACKPROP_RIGHT[group]),
                                     "backprop"))


# ----------------------------------------------------------------------------- mlp

TRAIN_LOOP = """
def train(model, X, y, epochs=200, lr=0.05):
    model.to(X.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range({epochs}):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        {step}
        losses.append({record})
    return losses
"""


def train_source(epochs="epochs", step="optimizer.step()", record="loss.item()"):
    return TRAIN_LOOP.format(epochs=epochs, step=step, record=record)


MLP_CLASS = """
class MLP(torch.nn.Module):
    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        self.fc1 = torch.nn.Linear(in_features, {hidden})
        self.fc2 = torch.nn.Linear({hidden}, out_features)

    def forward(self, x):
        return {forward}
"""


def mlp_source(hidden="hidden_features", forward="self.fc2(torch.relu(self.fc1(x)))"):
    return MLP_CLASS.format(hidden=hidden, forward=forward)


# Each group: (MLP source, the MLP check that must fail, train source, the train check that must fail)
MLP_MISTAKES = {
    "no_relu_and_never_steps": (mlp_source(forward="self.fc2(self.fc1(x))"), "linear_relu_linear",
                                train_source(step="pass  # optimizer.step() forgotten"), "loss_falls"),
    "sigmoid_logits_and_tensor_losses": (mlp_source(forward="torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))"),
                                         "linear_relu_linear", train_source(record="loss"), "one_loss_per_epoch"),
    "double_hidden_and_one_epoch_short": (mlp_source(hidden="2 * hidden_features"), "parameter_count",
                                          train_source(epochs="epochs - 1"), "one_loss_per_epoch"),
}


def mlp_module(folder, mlp_class: str, train: str):
    header = "import torch\n"
    return submission(folder, "mlp", header + mlp_class + "\n" + train)


@pytest.mark.parametrize("group", MLP_MISTAKES, ids=str)
def test_mlp_mistakes_are_caught_by_the_named_check(group, tmp_path):
    mlp_class, mlp_check, train, train_check = MLP_MISTAKES[group]
    result = grade_exercise(mlp_module(tmp_path, mlp_class, train), "mlp")
    assert ("MLP", mlp_check) in failing(result), summary(result)
    assert ("train", train_check) in failing(result), summary(result)


def test_an_untrained_model_fails_held_out_accuracy(tmp_path):
    result = grade_exercise(mlp_module(tmp_path, mlp_source(), train_source(step="pass")), "mlp")
    assert {("train", "held_out_accuracy"), ("train", "separates_xor")} <= failing(result), summary(result)


def test_mlp_right_answers_written_differently_score_full(tmp_path):
    sequential = """
    class MLP(torch.nn.Module):
        def __init__(self, in_features, hidden_features, out_features):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Linear(in_features, hidden_features), torch.nn.ReLU(),
                                              torch.nn.Linear(hidden_features, out_features))

        def forward(self, x):
            return self.layers(x)


    def train(model, X, y, epochs=200, lr=0.05):
        model = model.to(X.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        history = []
        for epoch in range(epochs):
            loss = loss_fn(model(X), y)
            model.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss))
        return history
    """
    folder = submission(tmp_path / "sequential", "mlp", "import torch\n" + textwrap.dedent(sequential))
    assert_full_marks(grade_exercise(folder, "mlp"))
    # The F.relu form with the loop above (Adam): the other shape of a right answer.
    assert_full_marks(grade_exercise(mlp_module(tmp_path / "functional", mlp_source(), train_source()), "mlp"))
