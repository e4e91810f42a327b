"""A multilayer perceptron in PyTorch, trained with cross-entropy.

A single linear layer separates classes with a straight line (a flat
hyperplane in higher dimensions), so it cannot learn XOR or two interleaved
half-moons. One hidden layer with a nonlinearity lets the network bend its
decision boundary:

    logits = fc2(relu(fc1(x)))

This time autograd does the backward pass for you: ``loss.backward()``
computes the gradients you derived by hand in the backprop exercise, and an
optimizer uses them to update the weights.

The grader builds its own data (for example two interleaved half-moons),
trains your MLP with your train function on the device the data is on, and
measures the accuracy on held-out points it keeps to itself. Training runs
under a time limit (a minute on a CPU), far more than the loop needs.

Check your work with::

    grade mlp
"""
import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """A two-layer perceptron: Linear -> ReLU -> Linear.

    Shapes:
        input x:     (N, in_features)
        hidden:      (N, hidden_features)
        output:      (N, out_features), the logits: one raw, unnormalised
                     score per class. No softmax at the end: cross_entropy
                     applies it itself.

    Example:
        MLP(2, 16, 2) has 2*16 + 16 = 48 parameters in the first layer and
        16*2 + 2 = 34 in the second, 82 in all; calling it on
        torch.randn(5, 2) returns a tensor of shape (5, 2).
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int):
        """Create the layers.

        ``super().__init__()`` must come first (it is already there): it sets
        up the bookkeeping that lets PyTorch find your layers' parameters.
        Then store, as attributes of self (for example ``self.fc1``,
        ``self.relu``, ``self.fc2``):

            nn.Linear(in_features, hidden_features)
            nn.ReLU()
            nn.Linear(hidden_features, out_features)

        (An ``nn.Sequential`` of the three, stored as one attribute, works
        too.)

        Args:
            in_features: int, the size of each input vector.
            hidden_features: int, the number of hidden units.
            out_features: int, the number of classes.

        Pitfalls:
            - Layers kept in a plain Python list are invisible to
              model.parameters() and will never be trained; assign each one
              to an attribute, or use nn.Sequential or nn.ModuleList.
            - Without super().__init__(), assigning the first layer raises
              an error.

        Your task: create the three layers and store them on self.
        """
        super().__init__()
        ### BEGIN SOLUTION: MLP.__init__ is not written yet: create the three layers
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits for a batch x.

        Args:
            x: shape (N, in_features).

        Returns:
            shape (N, out_features), the raw class scores (logits).

        Pitfalls:
            - Don't apply softmax here: F.cross_entropy expects raw logits
              and applies log-softmax itself; a second softmax trains badly.
            - Call the layers (``self.fc1(x)``) rather than multiplying by
              their weights yourself.

        Your task: apply the first linear layer, the ReLU and the second
        linear layer, in that order, and return the result.
        """
        ### BEGIN SOLUTION: MLP.forward is not written yet: return the logits
        return self.fc2(self.relu(self.fc1(x)))
        ### END SOLUTION


def train(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int = 200, lr: float = 0.05
) -> list[float]:
    """Train model on (X, y) with full-batch gradient descent; return the losses.

    Each epoch is one update computed from the whole data set (full batch, no
    mini-batches):

        1. optimizer.zero_grad()              clear last epoch's gradients
        2. logits = model(X)                  forward pass
        3. loss = F.cross_entropy(logits, y)  mean cross-entropy of the batch
        4. loss.backward()                    autograd fills p.grad for every
                                              parameter p
        5. optimizer.step()                   update the parameters

    For one example with logits z and true class c, the cross-entropy is
    -log(softmax(z)[c]): small when the model gives the true class a high
    probability, large when it is confidently wrong.

    Use ``torch.optim.Adam(model.parameters(), lr=lr)``. Adam adapts the step
    size of every parameter and reaches high accuracy on small problems like
    this within a couple of hundred epochs; plain SGD at this learning rate
    learns much more slowly.

    Args:
        model: an MLP (any nn.Module mapping (N, in_features) to
            (N, number of classes)).
        X: shape (N, in_features), floating point, on any device.
        y: shape (N,), dtype torch.long, class indices 0, 1, ...,
            on X's device.
        epochs: int, the number of updates (default 200).
        lr: float, the learning rate (default 0.05).

    Returns:
        A list of `epochs` Python floats: the loss of each epoch, computed
        before that epoch's update.

    Example:
        On two interleaved half-moons, train(MLP(2, 32, 2), X, y) returns
        200 losses; the first is close to log(2) ≈ 0.69 (a coin flip) and
        the last is below 0.1.

    Pitfalls:
        - Move the model to the data first (``model.to(X.device)``), or the
          forward pass fails with a device mismatch when X is on a GPU.
        - Without zero_grad(), gradients pile up from epoch to epoch.
        - Record ``loss.item()``, a float, not the loss tensor itself.
        - y holds class indices (dtype torch.long), not one-hot vectors and
          not floats.
        - Leave X and y unchanged (no normalising them in place): they
          belong to the caller.

    Your task: run `epochs` epochs of training as above and return the list
    of per-epoch losses.
    """
    ### BEGIN SOLUTION: train is not written yet: one full-batch update per epoch
    model.to(X.device)
    if X.is_floating_point():
        model.to(X.dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION
