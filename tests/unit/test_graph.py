"""The graph fold computes only what the pooling keeps, and gives the same outputs."""

import json

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")

from inference.graph import fold_subsampling, folded_symbol_json  # noqa: E402


def conv_bn_relu_pool(conv_stride, pool_kernel, pool_stride, pool_pad=(0, 0, 0), convention="valid", residual=False,
                      global_pool=False, bn_axis=1, conv_name="conv"):
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3, 3), stride=conv_stride, pad=(1, 1, 1), num_filter=4, no_bias=True, name=conv_name)
    x = mx.sym.Activation(mx.sym.BatchNorm(conv, axis=bn_axis, name="bn"), act_type="relu", name="relu")
    pooled = mx.sym.Pooling(x, kernel=pool_kernel, stride=pool_stride, pad=pool_pad, pool_type="max",
                            pooling_convention=convention, global_pool=global_pool, name="pool")
    if residual:  # the convolution's full output is used elsewhere too
        return mx.sym.Group([pooled, mx.sym.sum(conv)])
    return pooled


def run(symbol, shape, seed=0):
    rng = np.random.default_rng(seed)
    args = {"data": rng.standard_normal(shape).astype("float32")}
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
    for name, arg_shape in zip(symbol.list_arguments(), arg_shapes):
        args.setdefault(name, rng.standard_normal(arg_shape).astype("float32"))
    aux = {name: np.abs(rng.standard_normal(s)).astype("float32") + 0.5 for name, s in zip(symbol.list_auxiliary_states(), aux_shapes)}
    executor = symbol.bind(mx.cpu(), {k: mx.nd.array(v) for k, v in args.items()},
                           aux_states={k: mx.nd.array(v) for k, v in aux.items()})
    return [out.asnumpy() for out in executor.forward(is_train=False)]


def folded(symbol):
    graph = json.loads(symbol.tojson())
    folds = fold_subsampling(graph)
    return mx.sym.load_json(json.dumps(graph)), folds, graph


def attrs(graph, name):
    return next(node for node in graph["nodes"] if node["name"] == name)["attrs"]


@pytest.mark.parametrize("length", [8, 9, 11, 16])
def test_kernel_one_pooling_strides_move_into_the_convolution_and_outputs_stay_equal(length):
    original = conv_bn_relu_pool(conv_stride=(2, 1, 2), pool_kernel=(1, 3, 1), pool_stride=(2, 2, 3), pool_pad=(0, 1, 0))
    rewritten, folds, graph = folded(original)
    # Axes 0 and 2 have kernel 1 and no pad: folded. Axis 1 pools over 3: kept.
    assert attrs(graph, "conv")["stride"] == "(4, 1, 6)" and attrs(graph, "pool")["stride"] == "(1, 2, 1)"
    assert len(folds) == 1 and "conv" in folds[0] and "pool" in folds[0]
    shape = (1, 2, length, 10, length + 3)
    (expected,), (got,) = run(original, shape), run(rewritten, shape)
    assert got.shape == expected.shape
    # The same products, but oneDNN may pick another kernel for the new stride and sum them in
    # another order: equal to float32 rounding (a few units in the last place), not bit for bit.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    [
        dict(pool_kernel=(2, 3, 3), pool_stride=(2, 2, 2)),  # pools over 2 time steps: every output is used
        dict(pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2), pool_pad=(1, 1, 1)),  # padded: outputs shift
        dict(pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2), convention="full"),  # "full" may keep one more
        dict(pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2), residual=True),  # conv output used elsewhere
        dict(pool_kernel=(1, 3, 3), pool_stride=(1, 2, 2)),  # nothing dropped along the kernel-1 axis
        dict(pool_kernel=(1, 1, 1), pool_stride=(2, 2, 2), global_pool=True),  # stored as "1" or "True": all kept
        dict(pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2), bn_axis=2),  # BatchNorm along the folded axis
    ],
)
def test_nothing_is_folded_where_the_dropped_outputs_matter(case):
    original = conv_bn_relu_pool(conv_stride=(2, 2, 2), **case)
    _, folds, graph = folded(original)
    assert folds == []
    assert attrs(graph, "conv")["stride"] == "(2, 2, 2)"


def test_global_pooling_is_never_folded_however_its_flag_is_spelled():
    graph = json.loads(conv_bn_relu_pool(conv_stride=(2, 2, 2), pool_kernel=(1, 1, 1), pool_stride=(2, 2, 2)).tojson())
    pool = next(node for node in graph["nodes"] if node["name"] == "pool")
    for spelling in ("True", "true", "1", 1):
        pool["attrs"]["global_pool"] = spelling
        assert fold_subsampling(json.loads(json.dumps(graph))) == []


def test_a_convolution_and_pooling_numbering_axes_differently_are_left_alone():
    graph = json.loads(conv_bn_relu_pool(conv_stride=(2, 2, 2), pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2)).tojson())
    next(node for node in graph["nodes"] if node["name"] == "pool")["attrs"]["layout"] = "NDHWC"
    assert fold_subsampling(graph) == []


def test_a_folded_symbol_file_with_non_ascii_names_still_loads(tmp_path):
    path = tmp_path / "model-symbol.json"
    symbol = conv_bn_relu_pool(conv_stride=(2, 2, 2), pool_kernel=(1, 3, 3), pool_stride=(2, 2, 2), conv_name="conv_é")
    path.write_text(symbol.tojson(), encoding="utf-8")
    text, folds = folded_symbol_json(str(path))
    assert folds and "conv_é" in mx.sym.load_json(text).tojson()


def test_i3d_resnet50_folds_its_first_convolution_only(model_dir):
    with open("{}/model-symbol.json".format(model_dir)) as handle:
        graph = json.load(handle)
    if not any(node["name"] == "conv0_fwd" for node in graph["nodes"]):
        pytest.skip("the exported model is not GluonCV's I3D")
    folds = fold_subsampling(graph)
    assert folds == ["conv0_fwd stride (2, 2, 2) -> (4, 2, 2), pool0_fwd stride (2, 2, 2) -> (1, 2, 2)"]
