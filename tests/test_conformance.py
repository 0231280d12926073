"""ONNX's own node conformance cases for the supported ops, run through boda's Backend.

Every excluded case is listed below with its reason."""
import onnx.backend.test

from boda.session import BodaBackend

SUPPORTED = ["conv", "maxpool", "averagepool", "globalaveragepool", "globalmaxpool", "relu",
             "leakyrelu", "clip", "sigmoid", "concat", "softmax", "logsoftmax", "lrn",
             "flatten", "reshape", "transpose", "gemm", "matmul", "add", "mul", "sub", "div",
             "sum", "max", "min", "batchnorm", "dropout", "identity", "pad", "squeeze",
             "unsqueeze", "basic_conv", "averagepool_2d", "maxpool_2d",
             # activations (ir/activations.py), PRelu, spatial ReduceMean/ReduceMax
             "hardsigmoid", "hardswish", "tanh", "elu", "selu", "gelu", "softplus",
             "softsign", "mish", "erf", "exp", "log", "sqrt", "neg", "abs", "reciprocal",
             "pow", "prelu", "reduce_mean", "reduce_max", "slice", "split", "expand",
             "depthtospace", "spacetodepth", "mean", "cast", "tile",
             # resampling and reductions (ir/problems_upsample.py, ir/problems_norm.py)
             "resize", "upsample", "convtranspose", "reduce_sum", "reduce_min",
             "reduce_prod", "reduce_l1", "reduce_l2", "reduce_sum_square", "reduce_log_sum",
             "reduce_log_sum_exp", "argmax", "argmin", "instancenorm", "layer_normalization",
             # gathers, top-k, selection, comparisons and logic (0/1 floats)
             "gather", "topk", "where", "greater", "less", "equal", "greater_equal",
             "less_equal", "not", "and", "or", "xor", r"and\dd", r"or\dd", r"xor\dd"]

EXCLUDED = {
    r"_(u?int(8|16|32|64)|float16|float64|bfloat16|double)(_|$)":
        "integer, float16 and float64 tensors: boda computes in float32",
    r"_int32_trunc": "integer division: boda computes in float32",
    r"_expanded": "function-expanded forms use ops outside the supported set (CastLike, Exp, "
                  "ReduceMax, ...)",
    r"^test_batchnorm_.*(epsilon|example)": "BatchNormalization with scale/mean/var as graph "
                                            "inputs: boda needs them constant (inference)",
    r"training_mode": "training-mode BatchNormalization / Dropout",
    r"^test_dropout_default_mask": "Dropout's mask output is used",
    r"^test_maxpool_with_argmax": "MaxPool's Indices output is used",
    r"^test_identity_(opt|sequence)": "optional and sequence types",
    r"^test_pad_.*wrap|^test_wrap_pad": "Pad mode 'wrap' (opset 19)",
    r"^test_softmax_(lastdim|functional_dim3)": "PyTorch-converted cases at opset 6 (< 7)",
    r"^test_log_softmax_(lastdim|dim3)": "PyTorch-converted cases at opset 6 (< 7)",
    r"^test_split_to_sequence": "SplitToSequence: sequence types",
    r"^test_cast_": "every Cast case has a non-float32 input or output; boda computes and "
                    "returns float32 (a Cast between float types is its identity: test_ops.py)",
    r"^test_(Conv|MaxPool|AvgPool|BatchNorm|Softmax|Log|PReLU|ReLU|ELU|SELU|Linear|"
    r"Sigmoid|Tanh|Embed|Pixel|Poly|ZeroPad|ConstantPad|ReflectionPad|ReplicationPad)":
        "PyTorch-converted cases: covered by the node cases; many are opset < 7",
    r"^test_operator_": "PyTorch-operator cases: ops outside the supported set",
    r"^test_(gemm|matmul)_.*(int|uint)": "integer Gemm / MatMul",
    r"^test_equal_string": "string tensors",
    r"^test_gather_elements": "GatherElements (another op than Gather)",
    r"^test_not_\dd": "opset 1 (< 7)",
    r"^test_reduce_.*empty_set": "reductions over a size-0 axis (refused in one line)",
    r"^test_reduce_log_sum_exp_": "every ReduceLogSumExp case has float64 data",
    r"^test_reduce_.*bool_inputs": "bool tensors",
    r"^test_resize_.*cubic": "Resize mode 'cubic' (refused in one line)",
    r"^test_resize_.*antialias": "Resize with antialias=1 (refused in one line)",
    r"^test_resize_tf_crop_and_resize": "Resize with a region of interest (refused in one line)",
    r"^test_resize_downsample_scales_linear_align_corners": "onnx's expected output divides by "
        "the fractional output size (scale x input); onnxruntime, whose answer boda gives, by "
        "the integer one",
    r"^test_maxpool_2d_uint8": "uint8 input",
}

backend_test = onnx.backend.test.BackendTest(BodaBackend, __name__)
for op in SUPPORTED:
    backend_test.include(rf"^test_{op}(_.*)?_cpu$")
for pattern in EXCLUDED:
    backend_test.exclude(pattern)

globals().update(backend_test.enable_report().test_cases)
