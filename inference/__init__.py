"""The inference engine: read a segment from S3, sample frames exactly, run I3D.

Modules, one concern each:

- :mod:`inference.runtime`: process settings that must precede ``import mxnet``.
- :mod:`inference.errors`: the client errors the endpoint answers with.
- :mod:`inference.sampling`: which frame indices a clip uses (GluonCV's test-time rule).
- :mod:`inference.video`: PyAV decoding: probe, then decode forward from the last IDR keyframe
  before the first needed frame, skipping unkept non-reference frames, scaling in swscale.
- :mod:`inference.transforms`: composable preprocessing steps.
- :mod:`inference.clips`: a video file to the model's input tensors (sampling + preprocessing).
- :mod:`inference.predictor`: the MXNet ``SymbolBlock`` and its top-k output.
- :mod:`inference.s3source`: download with limits and an allow-list.
- :mod:`inference.service`: the request -> response logic (status and JSON body).
- :mod:`inference.sagemaker_entry`: ``model_fn``/``transform_fn`` for AWS's MXNet container, the
  only way this package is served (MMS + the SageMaker MXNet toolkit; locally too).

This package is what ``model.tar.gz`` ships under ``code/``: no test hooks, no server of its own.

Everything here runs on Python 3.8 (the MXNet inference container's), which
the tests check with ``vermin``.
"""
