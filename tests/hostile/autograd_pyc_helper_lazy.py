"""As autograd_pyc_helper, but the compiled helper is imported inside the function, so the
module itself still imports: the policy finds the import of a module that is not there and
names it; the call fails too, since ag_helper.pyc never reached the grader."""


def linear_backward(dy, x, W):
    from ag_helper import linear_backward as hidden

    return hidden(dy, x, W)
