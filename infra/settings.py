"""Stack settings: ``Pulumi.yaml``'s typed config block merged with ``Pulumi.<stack>.yaml``.

The Pulumi CLI does that merge itself; the Python SDK does not read
``Pulumi.yaml`` defaults, so tests and the local stack call
:func:`stack_config` to hand the program the same values the CLI would.
"""

from __future__ import annotations

import json
import os
import typing
from dataclasses import dataclass
from typing import Any

import yaml

from contracts.endpoint import CLIPS_RANGE
from contracts.segments import stream_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = "activity-detection"


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def project_defaults(root: str = ROOT) -> dict[str, Any]:
    """``Pulumi.yaml``'s config defaults, by key: the one place defaults are written."""
    with open(os.path.join(root, "Pulumi.yaml")) as handle:
        project = yaml.safe_load(handle)
    return {key: spec["default"] for key, spec in (project.get("config") or {}).items()
            if isinstance(spec, dict) and "default" in spec}


def stack_config(stack: str, root: str = ROOT, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """``{"<project>:<key>": "<string value>"}`` as ``pulumi up`` on ``stack`` would see it."""
    name = PROJECT
    merged: dict[str, str] = {f"{name}:{key}": _as_config_string(value) for key, value in project_defaults(root).items()}
    stack_file = os.path.join(root, f"Pulumi.{stack}.yaml")
    if os.path.exists(stack_file):
        with open(stack_file) as handle:
            for key, value in ((yaml.safe_load(handle) or {}).get("config") or {}).items():
                merged[key if ":" in key else f"{name}:{key}"] = _as_config_string(value)
    for key, value in (overrides or {}).items():
        merged[key if ":" in key else f"{name}:{key}"] = _as_config_string(value)
    return merged


def config_key(field_name: str) -> str:
    """The config key of a :class:`Settings` field: ``max_segment_bytes`` -> ``maxSegmentBytes``."""
    first, *rest = field_name.split("_")
    return first + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Settings:
    """The typed view of a stack's config that the components take.

    No defaults here: they live in ``Pulumi.yaml`` only (the CLI merges them, and
    :func:`stack_config` does the same for tests and the local stack).
    """

    stream_prefix: str
    segment_seconds: int
    segment_retention_days: int
    result_ttl_days: int
    max_segment_bytes: int
    max_frame_pixels: int
    force_destroy_buckets: bool
    live_source_enabled: bool
    live_source_video: str
    stream_id: str
    model_dir: str
    inference_image: str
    endpoint_instance_type: str
    endpoint_initial_count: int
    autoscaling_min_capacity: int
    autoscaling_max_capacity: int
    autoscaling_target_invocations: int
    endpoint_timeout_seconds: int
    clips: int
    min_confidence: float
    watch_activities: tuple[str, ...]
    alert_threshold: float
    alert_email: str
    log_retention_days: int
    lambda_runtime: str
    powertools_layer_arn: str
    fast_retries: bool
    endpoint_mode: str
    serverless_memory_mb: int
    serverless_max_concurrency: int
    endpoint_workers: int
    endpoint_threads_per_worker: int
    endpoint_job_queue_size: int
    intake_max_concurrency: int
    segment_alerts: bool
    episode_threshold: float
    episode_open_segments: int
    episode_close_segments: int
    episode_lateness_seconds: int
    stall_segments: int
    sweep_schedule: str
    evidence_prefix: str
    evidence_retention_days: int
    evidence_preroll_seconds: int
    evidence_postroll_seconds: int
    evidence_max_clip_seconds: int
    episodes_timeout_seconds: int

    @classmethod
    def from_config(cls, config) -> "Settings":
        """Read every field from a ``pulumi.Config`` (camelCase keys), typed by the field's annotation.

        A key missing from the config is an error naming it (``Pulumi.yaml`` has a default for each).
        """
        readers = {bool: config.require_bool, int: config.require_int, float: config.require_float, str: config.require}
        values: dict[str, Any] = {}
        for name, kind in typing.get_type_hints(cls).items():
            key = config_key(name)
            if typing.get_origin(kind) is tuple:
                values[name] = tuple(config.require_object(key))
            elif kind in readers:
                values[name] = readers[kind](key)
            else:
                raise TypeError(f"Settings.{name}: no config reader for {kind!r}")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if stream_folder(self.stream_prefix) == "/":
            raise ValueError("streamPrefix must not be empty: the rule and the Lambda match keys under it")
        if not 1 <= self.autoscaling_min_capacity <= self.autoscaling_max_capacity:
            raise ValueError("need 1 <= autoscalingMinCapacity <= autoscalingMaxCapacity")
        low, high = CLIPS_RANGE
        if not low <= self.clips <= high:
            raise ValueError(f"clips must be between {low} and {high}")
        from infra.model_endpoint import (
            INSTANCE_MODE, SERVERLESS_MAX_CONCURRENCY, SERVERLESS_MEMORY_MB, SERVERLESS_MODE, is_gpu_instance,
        )

        if self.endpoint_workers < 0 or self.endpoint_threads_per_worker < 0:
            raise ValueError("endpointWorkers and endpointThreadsPerWorker must be 0 (automatic) or more")
        if self.endpoint_job_queue_size < 1:
            raise ValueError("endpointJobQueueSize must be 1 or more")
        if self.intake_max_concurrency != 0 and not 2 <= self.intake_max_concurrency <= 1000:
            raise ValueError("intakeMaxConcurrency must be 0 (derived from the endpoint) or between 2 and 1000 "
                             "(the event source mapping's MaximumConcurrency)")
        if self.endpoint_mode not in (INSTANCE_MODE, SERVERLESS_MODE):
            raise ValueError(f"endpointMode must be {INSTANCE_MODE!r} or {SERVERLESS_MODE!r}, not {self.endpoint_mode!r}")
        if self.endpoint_mode == SERVERLESS_MODE:
            if self.serverless_memory_mb not in SERVERLESS_MEMORY_MB:
                raise ValueError(f"serverlessMemoryMb must be one of {SERVERLESS_MEMORY_MB} (SageMaker Serverless)")
            if not 1 <= self.serverless_max_concurrency <= SERVERLESS_MAX_CONCURRENCY:
                raise ValueError(f"serverlessMaxConcurrency must be between 1 and {SERVERLESS_MAX_CONCURRENCY}")
            if is_gpu_instance(self.endpoint_instance_type):
                raise ValueError("endpointMode serverless has no GPU: leave endpointInstanceType a CPU type or use instance mode")
        self.episode_rules().validate()
        if self.stall_segments < 1:
            raise ValueError("stallSegments must be at least 1")
        evidence, prefix = self.evidence_prefix.strip("/"), self.stream_prefix.strip("/")
        if not evidence or evidence == prefix or evidence.startswith(prefix + "/"):
            raise ValueError("evidencePrefix must be a folder of its own, outside streamPrefix (its own lifecycle)")
        if self.evidence_retention_days <= self.segment_retention_days:
            raise ValueError("evidenceRetentionDays must be longer than segmentRetentionDays")

    def episode_rules(self):
        from contracts.episodes import EpisodeRules

        return EpisodeRules(
            threshold=self.episode_threshold,
            open_segments=self.episode_open_segments,
            close_segments=self.episode_close_segments,
            lateness_seconds=float(self.episode_lateness_seconds),
        )
