"""Issue 20: from_torch reads forward() as PyTorch runs it (torch.fx), every ReLU form alike;
what cannot be traced or run is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import eie  # noqa: E402
from eie.errors import FormatError  # noqa: E402
from eie.frontend.torch import from_module  # noqa: E402


class Three(nn.Module):
    def __init__(self, act: str):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(12, 20), nn.Linear(20, 16), nn.Linear(16, 5)
        self.act = act
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.2)

    def r(self, x):
        if self.act == "F.relu":
            return F.relu(x)
        if self.act == "torch.relu":
            return torch.relu(x)
        if self.act == "x.relu()":
            return x.relu()
        if self.act == "inplace":
            return F.relu(x, inplace=True)
        return self.relu(x)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = self.r(self.fc1(x))
        x = self.drop(self.r(self.fc2(x)))
        return self.fc3(x)


def sequential():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Sequential(nn.Linear(20, 16), nn.ReLU()), nn.Linear(16, 5))


@pytest.mark.parametrize("act", ["F.relu", "torch.relu", "x.relu()", "nn.ReLU", "inplace", "Sequential"])
def test_every_relu_form_reads_as_the_module_runs(act):
    torch.manual_seed(0)
    model = sequential() if act == "Sequential" else Three(act)
    model.eval()
    x = np.random.default_rng(0).normal(size=(32, 12))
    want = model(torch.as_tensor(x, dtype=torch.float32)).detach().double().numpy()
    imported = from_module(model)
    assert [l.activation for l in imported.layers] == ["relu", "relu", "none"]
    net = eie.from_torch(model)
    got = net.predict(x, backend="float")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


class Sigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(torch.sigmoid(self.fc1(x)))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc1(x) + x


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent: torch.fx cannot trace it
            return self.fc1(x)
        return x


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc1(x) * 2


@pytest.mark.parametrize(
    "model,message",
    [
        (Sigmoid(), r"Sigmoid.forward uses torch.sigmoid \(node 'sigmoid'\)"),
        (Residual(), r"Residual.forward: .*add.* does not take the previous layer's output alone"),
        (Branchy(), r"cannot trace Branchy.forward with torch.fx"),
        (Scaled(), r"Scaled.forward uses _operator.mul"),
    ],
)
def test_what_cannot_be_read_is_refused_by_name(model, message):
    with pytest.raises(FormatError, match=message):
        from_module(model)


class LSTMHead(nn.Module):
    def __init__(self, step: int):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 3)
        self.step = step

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, self.step])


def test_an_lstm_module_is_checked_against_its_own_forward():
    torch.manual_seed(0)
    good = LSTMHead(-1)
    imported = from_module(good)  # the head reads the last step: what the reader assumes
    x = np.random.default_rng(0).normal(size=(2, 5, 4))
    with torch.no_grad():
        want = good(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(imported.lstm.forward(x), want, atol=1e-5)
    # Reading the first step instead is not what the definition order implies: refused, not guessed.
    with pytest.raises(FormatError, match="LSTMHead: the layers read .* do not compute what its forward"):
        from_module(LSTMHead(0))
