"""Runtime environment variables: what the Pulumi program sets and the code reads.

One class per runtime. The program builds it from the stack's settings and
sets :meth:`to_environ`; the runtime reads it once at start with
:meth:`from_environ`, which has no defaults: a missing or malformed variable
stops the runtime with :class:`MissingEnvironment` naming it. Shipped in
model.tar.gz and the Lambda archive: Python 3.8.
"""

import os
from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Optional, Tuple, Type, TypeVar

T = TypeVar("T", bound="_Environment")

# Serving settings the Model's environment sets and the serving stack reads: names AWS's
# toolkit and MMS define (the Pulumi program writes them; the reader's decoder follows them).
#: MMS workers per instance (each its own Python process and copy of the model).
MMS_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
#: OpenMP threads per worker (the toolkit sets 1 when the Model's environment does not).
OMP_THREADS = "OMP_NUM_THREADS"


class MissingEnvironment(RuntimeError):
    """A variable the runtime needs is not set (or cannot be read): the deployment is incomplete."""


class _Environment:
    """Fields are variables (upper-cased); ``str``, ``int``, ``float`` or a comma-separated ``Tuple[str, ...]``."""

    @classmethod
    def from_environ(cls: Type[T], environ: Optional[Mapping[str, str]] = None) -> T:
        environ = os.environ if environ is None else environ
        missing = [f.name.upper() for f in fields(cls) if f.name.upper() not in environ]
        if missing:
            raise MissingEnvironment(
                "{} needs the environment variable(s) {} (set by the Pulumi program); they are not set".format(
                    cls.__name__, ", ".join(missing)
                )
            )
        values = {}  # type: Dict[str, Any]
        for f in fields(cls):
            raw = environ[f.name.upper()]
            try:
                values[f.name] = _parse(f.type, raw)
            except ValueError:
                raise MissingEnvironment("{}={!r} is not a valid {}".format(f.name.upper(), raw, _type_name(f.type)))
        return cls(**values)

    def to_environ(self) -> Dict[str, Any]:
        """The variables, as text; a value that is not yet known (a Pulumi ``Output``) is passed as is."""
        values = {}  # type: Dict[str, Any]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                values[f.name.upper()] = ",".join(value)
            elif isinstance(value, (str, int, float)):
                values[f.name.upper()] = str(value)
            else:
                values[f.name.upper()] = value
        return values

    @classmethod
    def variables(cls) -> Tuple[str, ...]:
        return tuple(f.name.upper() for f in fields(cls))


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def _parse(kind: Any, raw: str) -> Any:
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (str, "str"):
        return raw
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class LambdaEnvironment(_Environment):
    """The validation Lambda's configuration."""

    stream_prefix: str
    max_segment_bytes: int
    segment_seconds: float
    result_ttl_days: float


@dataclass(frozen=True)
class EndpointEnvironment(_Environment):
    """The endpoint's limits (its container adds SageMaker's own variables)."""

    #: Buckets the endpoint may read segments from (comma-separated).
    allowed_buckets: Tuple[str, ...]
    max_segment_bytes: int
    max_segment_seconds: float
    max_frame_pixels: int


@dataclass(frozen=True)
class EpisodesEnvironment(_Environment):
    """The episodes Lambda's configuration (the fold, its events, the sweep and the evidence)."""

    episodes_table: str
    records_table: str
    #: The bus the episode and stream events go to.
    event_bus_name: str
    #: Labels whose episodes send events (comma-separated; empty: no activity events).
    notify_labels: Tuple[str, ...]
    episode_threshold: float
    episode_open_segments: int
    episode_close_segments: int
    episode_lateness_seconds: float
    #: The sweep declares a stream stalled after this long without a record.
    stall_seconds: float
    segment_seconds: float
    #: Where evidence (snapshot, clip) is written: ``s3://<bucket>/<prefix>/<stream>/<episode>/``.
    evidence_bucket: str
    evidence_prefix: str
    evidence_preroll_seconds: float
    evidence_postroll_seconds: float
    evidence_max_clip_seconds: float
    #: ffmpeg in the Lambda layer (elsewhere, ffmpeg on the path or the ``imageio-ffmpeg`` wheel's).
    ffmpeg_path: str


@dataclass(frozen=True)
class StartWorkflowEnvironment(_Environment):
    """The intake's starter (contracts.intake): the workflow it starts and where it gives up to."""

    state_machine_arn: str
    #: The intake queue: the starter hides a failed message until its next try.
    intake_queue_url: str
    #: An event the starter gives up on goes here, with its reason (as EventBridge's own undeliverable events).
    events_dlq_url: str
