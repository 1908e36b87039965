"""The module system: registration, traversal, modes, freezing, state_dict, repr, containers."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.module import current_module_path, module_path_names


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.register_buffer("steps", np.zeros((), dtype=np.int64))
        self.register_buffer("cache", np.zeros(2), persistent=False)

    def forward(self, x):
        return self.layers(x) * self.scale


# ----------------------------------------------------------------------------- Parameter
def test_parameter_dtype_rules(float64_default):
    assert nn.Parameter([1.0, 2.0]).dtype == np.float64
    assert nn.Parameter(np.ones(2, dtype=np.float32)).dtype == np.float32
    p = nn.Parameter(ag.Tensor(np.ones(3, dtype=np.float32)))
    assert isinstance(p, ag.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert "Parameter containing" in repr(p)


def test_parameter_python_data_uses_default_dtype():
    assert nn.Parameter([1, 2]).dtype == ag.get_default_dtype()
    assert nn.Linear(2, 3).weight.dtype == ag.get_default_dtype()


def test_new_model_is_float64_after_set_default_dtype(float64_default):
    m = nn.Sequential(nn.Linear(2, 3), nn.Embedding(4, 3))
    assert all(p.dtype == np.float64 for p in m.parameters())


# ----------------------------------------------------------------------------- registration and traversal
def test_named_parameters_dotted_names_and_order():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert [p.shape for p in m.parameters()] == [(2,), (4, 3), (4,), (2, 4), (2,)]
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]


def test_buffers_are_in_state_dict_not_in_parameters():
    m = MLP()
    assert [n for n, _ in m.named_buffers()] == ["steps", "cache"]
    assert all(b is not p for b in m.buffers() for p in m.parameters())
    keys = list(m.state_dict())
    assert "steps" in keys and "cache" not in keys  # non-persistent buffers stay out


def test_children_and_modules():
    m = MLP()
    assert [n for n, _ in m.named_children()] == ["layers"]
    names = [n for n, _ in m.named_modules()]
    assert names == ["", "layers", "layers.0", "layers.1", "layers.2"]
    assert len(list(m.modules())) == 5


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, lin)
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]  # PyTorch keeps both keys


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = ag.Tensor(np.zeros((3, 2)))
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.Parameter(np.zeros(1))
    assert "extra" in dict(m.named_parameters())
    del m.extra
    assert "extra" not in dict(m.named_parameters())
    m.child = nn.ReLU()
    m.child = None
    assert list(m.children()) == []


def test_assign_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError):
        m.register_parameter("w", ag.Tensor(np.zeros(1)))
    with pytest.raises(TypeError):
        m.register_buffer("b", [1, 2])
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        m(1)


def test_apply_visits_every_module():
    seen = []
    MLP().apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "MLP"]


# ----------------------------------------------------------------------------- modes and gradients
def test_train_eval_propagate():
    m = MLP()
    assert m.eval() is m
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    with pytest.raises(ValueError):
        m.train("yes")


def test_zero_grad_and_freeze():
    m = MLP()
    x = np.ones((5, 3), dtype=np.float32)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.layers[0].requires_grad_(False)
    m(x).sum().backward()
    assert m.layers[0].weight.grad is None and m.layers[0].bias.grad is None
    assert m.layers[2].weight.grad is not None


# ----------------------------------------------------------------------------- state_dict
def test_state_dict_round_trip_and_copies():
    a, b = MLP(), MLP()
    sd = a.state_dict()
    assert list(sd) == ["scale", "steps", "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    sd["layers.0.weight"][...] = 7  # a copy: the model must not change
    assert not np.any(a.layers[0].weight.data == 7)
    sd = a.state_dict()
    sd["steps"] = np.array(3)
    ids = [id(p) for p in b.parameters()]
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert [id(p) for p in b.parameters()] == ids  # Parameter identity kept (optimizers keep working)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert int(b.steps) == 3


def test_load_accepts_tensors_and_lists_and_casts():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": ag.Tensor(np.eye(2)), "bias": [1, 2]})
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, np.eye(2))
    np.testing.assert_array_equal(m.bias.data, [1, 2])


def test_strict_load_errors_name_everything_and_change_nothing():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = m.state_dict()
    bad = dict(before)
    del bad["1.bias"]
    bad["0.weight"] = np.zeros((5, 3))
    bad["extra.weight"] = np.zeros(1)
    bad["1.weight"] = np.full((2, 4), 9.0)  # valid on its own, but must not be written
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert '"1.bias"' in msg and "Missing" in msg
    assert '"extra.weight"' in msg and "Unexpected" in msg
    assert "size mismatch for 0.weight" in msg and "(5, 3)" in msg and "(4, 3)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_returns_keys_but_still_rejects_shapes():
    m = nn.Linear(2, 2)
    result = m.load_state_dict({"weight": np.ones((2, 2)), "other": np.ones(1)}, strict=False)
    assert result == (["bias"], ["other"])
    np.testing.assert_array_equal(m.weight.data, 1)
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"weight": np.ones((3, 2))}, strict=False)
    with pytest.raises(TypeError):
        m.load_state_dict([("weight", np.ones((2, 2)))])


def test_load_rejects_non_numeric_values():
    m = nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match="cannot convert"):
        m.load_state_dict({"weight": np.array([["a"]]), "bias": np.zeros(1)})


def test_deepcopy_keeps_values_and_independence():
    m = MLP()
    c = copy.deepcopy(m)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]
    assert c.layers[0].weight is not m.layers[0].weight
    assert isinstance(c.layers[0].weight, nn.Parameter)
    c.layers[0].weight.data[...] = 0
    assert np.any(m.layers[0].weight.data != 0)


# ----------------------------------------------------------------------------- repr
def test_repr_is_a_nested_tree():
    text = repr(MLP())
    assert text == (
        "MLP(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"


# ----------------------------------------------------------------------------- containers
def test_sequential_indexing():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear)
    sub = s[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is s[0]
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)
    s.append(nn.Sigmoid())
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    with pytest.raises(IndexError):
        s[4]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    ml.insert(0, nn.ReLU())
    assert len(ml) == 5 and isinstance(ml[0], nn.ReLU)
    assert [n for n, _ in ml.named_parameters()][:2] == ["1.weight", "1.bias"]
    del ml[0]
    assert isinstance(ml[0], nn.Linear) and len(ml) == 4
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md) == ["enc", "dec"] and "enc" in md
    md["act"] = nn.ReLU()
    assert list(md.keys()) == ["enc", "dec", "act"]
    assert list(md.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(md.pop("act"), nn.ReLU) and len(md) == 2


# ----------------------------------------------------------------------------- module path (graph clusters)
def test_current_module_path_during_forward():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((current_module_path(), module_path_names(model)))
            return x

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Probe()))
    model(np.ones((1, 2), dtype=np.float32))
    path, names = seen[0]
    assert path == (model, model[1], model[1][0])
    assert names == ["", "1", "1.0"]
    assert current_module_path() == ()


def test_ops_record_their_module_scope():
    model = nn.Sequential(nn.Linear(2, 2))
    x = ag.Tensor(np.ones((1, 2), dtype=np.float32), requires_grad=True)
    y = model(x)
    assert y._scope.owners() == (model, model[0])


def test_dtype_casts_keep_identity():
    m = MLP()
    ids = [id(p) for p in m.parameters()]
    assert m.double() is m
    assert [id(p) for p in m.parameters()] == ids
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.steps.dtype == np.int64 and m.cache.dtype == np.float64  # integer buffers untouched
    y = m(np.ones((2, 3)))
    assert y.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError):
        m.to(np.int32)
