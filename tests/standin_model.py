"""A colour-coded stand-in for MediaPipe's 6-class selfie segmenter, for tests.

The real ``selfie_multiclass_256x256.tflite`` cannot be downloaded on these
machines, so tests build this model instead. It has the real model's interface
(input 1x256x256x3 float32 RGB normalised to [0, 1] by metadata, output
1x256x256x6 probabilities, the same six labels) and MediaPipe's ImageSegmenter
loads it the same way. Its masks are exact: a pixel's class is the nearest of
six fixed colours, ``p_k = softmax_k(-SHARPNESS * |x - c_k|^2)``, so tests can
paint frames with ``COLOURS`` and assert confidences via ``expected_confidences``.

The network is one 1x1 CONV_2D plus SOFTMAX, written as a TFLite flatbuffer with
MediaPipe's generated schema classes (no TensorFlow), with TFLite metadata and
a labels file appended as a zip, as MediaPipe's metadata populator does.
"""

from __future__ import annotations

import io
import pathlib
import zipfile

import flatbuffers
import numpy as np
from mediapipe.tasks.metadata import image_segmenter_metadata_schema_py_generated as seg_fb
from mediapipe.tasks.metadata import metadata_schema_py_generated as md_fb
from mediapipe.tasks.metadata import schema_py_generated as tfl

LABELS: tuple[str, ...] = ("background", "hair", "body-skin", "face-skin", "clothes", "others")

# Six corners of the RGB cube: any two are at least 255 apart in one channel.
# Background is black so a blank frame is background.
COLOURS: np.ndarray = np.array(
    [
        (0, 0, 0),  # background: black
        (255, 0, 0),  # hair: red
        (0, 255, 0),  # body-skin: green
        (0, 0, 255),  # face-skin: blue
        (255, 255, 0),  # clothes: yellow
        (0, 255, 255),  # others: cyan
    ],
    dtype=np.uint8,
)
COLOURS.flags.writeable = False

# With colours in [0, 1] the nearest other classes are at squared distance 1,
# so a pure colour scores at least 1 / (1 + 3 exp(-8) + 2 exp(-16)) = 0.99899
# (black, with three such neighbours; the others score 0.99933), while a 50/50
# blend of two neighbouring colours scores ~0.5 for each of the two.
SHARPNESS: float = 8.0

INPUT_SIZE = 256  # height and width of the model input and output, like the real model

_LABELS_FILE = "labels.txt"
# Minimum metadata parser version that knows SubGraphMetadata.custom_metadata;
# normally computed by the C++ populator, which the wheel does not ship.
_MIN_PARSER_VERSION = "1.5.0"


def expected_confidences(rgb: np.ndarray) -> np.ndarray:
    """Reference for the network: HxWx3 uint8 RGB -> HxWx6 float32 class probabilities."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected HxWx3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    x = rgb.astype(np.float64) / 255.0
    c = COLOURS.astype(np.float64) / 255.0
    # The network's logits (see _conv_weights); same softmax as -s * |x - c_k|^2.
    logits = SHARPNESS * (2.0 * x @ c.T - (c**2).sum(axis=1))
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)


def build_standin_model(path: pathlib.Path) -> pathlib.Path:
    """Write the stand-in .tflite (metadata + appended labels zip) to ``path``."""
    path = pathlib.Path(path)
    model = bytearray(_tflite_model(_metadata()))
    # MediaPipe reads associated files from a zip appended to the flatbuffer.
    with io.BytesIO(model) as buf:
        with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(_LABELS_FILE, "\n".join(LABELS) + "\n")
        data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _conv_weights() -> tuple[np.ndarray, np.ndarray]:
    """1x1 conv weights (OHWI) and bias giving logit_k = s * (2 x.c_k - |c_k|^2).

    This equals -s * |x - c_k|^2 + s * |x|^2; the last term is the same for all
    k, so the softmax of these logits is softmax_k(-s * |x - c_k|^2).
    """
    c = COLOURS.astype(np.float64) / 255.0
    weights = (2.0 * SHARPNESS * c).reshape(len(LABELS), 1, 1, 3)
    bias = -SHARPNESS * (c**2).sum(axis=1)
    return weights.astype(np.float32), bias.astype(np.float32)


def _tensor(name: str, shape: list[int], buffer: int) -> tfl.TensorT:
    t = tfl.TensorT()
    t.name = name
    t.shape = np.array(shape, dtype=np.int32)
    t.type = tfl.TensorType.FLOAT32
    t.buffer = buffer
    return t


def _buffer(data: bytes | None = None) -> tfl.BufferT:
    b = tfl.BufferT()
    if data is not None:
        # A ubyte vector follows its uint32 length, so float data is 4-byte aligned.
        b.data = np.frombuffer(data, dtype=np.uint8)
    return b


def _tensor_map(name: str, index: int) -> tfl.TensorMapT:
    m = tfl.TensorMapT()
    m.name = name
    m.tensorIndex = index
    return m


def _opcode(op: int) -> tfl.OperatorCodeT:
    code = tfl.OperatorCodeT()
    # Builtins below 127 must also be in the deprecated int8 field, which older
    # readers (and TFLite's own fallback logic) look at.
    code.builtinCode = op
    code.deprecatedBuiltinCode = op
    code.version = 1
    return code


def _tflite_model(metadata: bytes) -> bytes:
    weights, bias = _conv_weights()
    n = len(LABELS)

    # Buffer 0 is the conventional empty buffer for tensors without constant data.
    buffers = [_buffer(), _buffer(weights.tobytes()), _buffer(bias.tobytes()), _buffer(metadata)]
    tensors = [
        _tensor("input_image", [1, INPUT_SIZE, INPUT_SIZE, 3], 0),
        _tensor("conv_weights", [n, 1, 1, 3], 1),
        _tensor("conv_bias", [n], 2),
        _tensor("logits", [1, INPUT_SIZE, INPUT_SIZE, n], 0),
        _tensor("segmentation_masks", [1, INPUT_SIZE, INPUT_SIZE, n], 0),
    ]

    conv = tfl.OperatorT()
    conv.opcodeIndex = 0
    conv.inputs = np.array([0, 1, 2], dtype=np.int32)
    conv.outputs = np.array([3], dtype=np.int32)
    conv.builtinOptionsType = tfl.BuiltinOptions.Conv2DOptions
    conv.builtinOptions = tfl.Conv2DOptionsT()
    conv.builtinOptions.padding = tfl.Padding.VALID
    conv.builtinOptions.strideH = conv.builtinOptions.strideW = 1
    conv.builtinOptions.dilationHFactor = conv.builtinOptions.dilationWFactor = 1
    conv.builtinOptions.fusedActivationFunction = tfl.ActivationFunctionType.NONE

    softmax = tfl.OperatorT()
    softmax.opcodeIndex = 1
    softmax.inputs = np.array([3], dtype=np.int32)
    softmax.outputs = np.array([4], dtype=np.int32)
    softmax.builtinOptionsType = tfl.BuiltinOptions.SoftmaxOptions
    softmax.builtinOptions = tfl.SoftmaxOptionsT()
    softmax.builtinOptions.beta = 1.0

    subgraph = tfl.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors = tensors
    subgraph.inputs = np.array([0], dtype=np.int32)
    subgraph.outputs = np.array([4], dtype=np.int32)
    subgraph.operators = [conv, softmax]

    # One signature, naming the input and output: without it MediaPipe's
    # inference feedback manager logs a warning on every segmenter creation.
    signature = tfl.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [_tensor_map("input_image", 0)]
    signature.outputs = [_tensor_map("segmentation_masks", 4)]

    metadata_entry = tfl.MetadataT()
    metadata_entry.name = "TFLITE_METADATA"  # the name MediaPipe's metadata extractor looks for
    metadata_entry.buffer = 3

    model = tfl.ModelT()
    model.version = 3
    model.description = "stream_mask colour-coded stand-in for selfie_multiclass_256x256"
    model.operatorCodes = [_opcode(tfl.BuiltinOperator.CONV_2D), _opcode(tfl.BuiltinOperator.SOFTMAX)]
    model.subgraphs = [subgraph]
    model.buffers = buffers
    model.metadata = [metadata_entry]
    model.signatureDefs = [signature]

    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _image_tensor(name: str, description: str, colour_space: int) -> md_fb.TensorMetadataT:
    tensor = md_fb.TensorMetadataT()
    tensor.name, tensor.description = name, description
    tensor.content = md_fb.ContentT()
    tensor.content.contentPropertiesType = md_fb.ContentProperties.ImageProperties
    tensor.content.contentProperties = md_fb.ImagePropertiesT()
    tensor.content.contentProperties.colorSpace = colour_space
    return tensor


def _metadata() -> bytes:
    """TFLite model metadata, laid out like that of MediaPipe's published segmenters."""
    # MediaPipe accepts only RGB input.
    image = _image_tensor("image", "Input image to be processed.", md_fb.ColorSpaceType.RGB)
    # A float input needs normalisation options: x = (pixel - 0) / 255.
    norm = md_fb.ProcessUnitT()
    norm.optionsType = md_fb.ProcessUnitOptions.NormalizationOptions
    norm.options = md_fb.NormalizationOptionsT()
    norm.options.mean = [0.0]
    norm.options.std = [255.0]
    image.processUnits = [norm]
    image.stats = md_fb.StatsT()
    image.stats.min = [0.0]
    image.stats.max = [1.0]

    labels = md_fb.AssociatedFileT()
    labels.name = _LABELS_FILE
    labels.description = "Labels for categories that the model can recognize."
    labels.type = md_fb.AssociatedFileType.TENSOR_AXIS_LABELS  # how MediaPipe finds the labels

    masks = _image_tensor("segmentation_masks", "Masks over the target objects with high accuracy.",
                          md_fb.ColorSpaceType.GRAYSCALE)
    masks.content.range = md_fb.ValueRangeT()  # dims 1..2 (H, W) form the mask image
    masks.content.range.min = 1
    masks.content.range.max = 2
    masks.stats = md_fb.StatsT()
    masks.associatedFiles = [labels]

    subgraph = md_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [masks]
    # The model already ends in SOFTMAX, so MediaPipe must pass scores through
    # (NONE); without this entry it also uses NONE but logs a warning.
    subgraph.customMetadata = [_segmenter_options(seg_fb.Activation.NONE)]

    metadata = md_fb.ModelMetadataT()
    metadata.name = "ImageSegmenter"
    metadata.description = "stream_mask test stand-in: class = nearest of six colours."
    metadata.version = "1"
    metadata.author = "stream_mask"
    metadata.license = "Apache-2.0"
    metadata.minParserVersion = _MIN_PARSER_VERSION
    metadata.subgraphMetadata = [subgraph]

    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), file_identifier=b"M001")
    return bytes(builder.Output())


def _segmenter_options(activation: int) -> md_fb.CustomMetadataT:
    options = seg_fb.ImageSegmenterOptionsT()
    options.activation = activation
    builder = flatbuffers.Builder(0)
    builder.Finish(options.Pack(builder), file_identifier=b"V001")

    custom = md_fb.CustomMetadataT()
    custom.name = "SEGMENTER_METADATA"  # the name MediaPipe's segmenter graph looks for
    custom.data = np.frombuffer(bytes(builder.Output()), dtype=np.uint8)
    return custom
