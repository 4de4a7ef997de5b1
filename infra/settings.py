"""Stack settings: ``Pulumi.yaml``'s typed config block merged with ``Pulumi.<stack>.yaml``.

The Pulumi CLI does that merge itself; the Python SDK does not read
``Pulumi.yaml`` defaults, so tests and the local stack call
:func:`stack_config` to hand the program the same values the CLI would.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = "activity-detection"


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, root: str = ROOT, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """``{"<project>:<key>": "<string value>"}`` as ``pulumi up`` on ``stack`` would see it."""
    with open(os.path.join(root, "Pulumi.yaml")) as handle:
        project = yaml.safe_load(handle)
    name = project["name"]
    merged: dict[str, str] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "default" in spec:
            merged[f"{name}:{key}"] = _as_config_string(spec["default"])
    stack_file = os.path.join(root, f"Pulumi.{stack}.yaml")
    if os.path.exists(stack_file):
        with open(stack_file) as handle:
            for key, value in ((yaml.safe_load(handle) or {}).get("config") or {}).items():
                merged[key if ":" in key else f"{name}:{key}"] = _as_config_string(value)
    for key, value in (overrides or {}).items():
        merged[key if ":" in key else f"{name}:{key}"] = _as_config_string(value)
    return merged


@dataclass(frozen=True)
class Settings:
    """The typed view of a stack's config that the components take."""

    stream_prefix: str = "live"
    segment_seconds: int = 10
    segment_retention_days: int = 7
    result_ttl_days: int = 30
    max_segment_bytes: int = 64 * 1024 * 1024
    force_destroy_buckets: bool = False
    live_source_enabled: bool = True
    live_source_video: str = "videos/bikes.mp4"
    stream_id: str = "medialive"
    model_dir: str = "model/artifacts"
    inference_image: str = ""
    endpoint_instance_type: str = "ml.c5.xlarge"
    endpoint_initial_count: int = 1
    autoscaling_min_capacity: int = 1
    autoscaling_max_capacity: int = 2
    autoscaling_target_invocations: int = 60
    endpoint_timeout_seconds: int = 40
    clips: int = 1
    min_confidence: float = 0.0
    watch_activities: tuple[str, ...] = field(default_factory=tuple)
    alert_threshold: float = 0.5
    alert_email: str = ""
    log_retention_days: int = 14
    lambda_runtime: str = "python3.12"
    powertools_layer_arn: str = ""
    fast_retries: bool = False
    # Defaults only in Pulumi.yaml (the callers pass the merged config).
    endpoint_mode: str = field(kw_only=True)
    serverless_memory_mb: int = field(kw_only=True)
    serverless_max_concurrency: int = field(kw_only=True)
    segment_alerts: bool = field(kw_only=True)
    episode_threshold: float = field(kw_only=True)
    episode_open_segments: int = field(kw_only=True)
    episode_close_segments: int = field(kw_only=True)
    episode_lateness_seconds: int = field(kw_only=True)
    stall_segments: int = field(kw_only=True)
    sweep_schedule: str = field(kw_only=True)
    evidence_prefix: str = field(kw_only=True)
    evidence_retention_days: int = field(kw_only=True)
    evidence_preroll_seconds: int = field(kw_only=True)
    evidence_postroll_seconds: int = field(kw_only=True)
    evidence_max_clip_seconds: int = field(kw_only=True)
    episodes_timeout_seconds: int = field(kw_only=True)

    @classmethod
    def from_config(cls, config) -> "Settings":
        """Read every field from a ``pulumi.Config`` (camelCase keys), keeping defaults for absent ones."""
        values: dict[str, Any] = {}
        for name, field_ in cls.__dataclass_fields__.items():
            key = "".join(part if i == 0 else part.capitalize() for i, part in enumerate(name.split("_")))
            kind = field_.type
            if kind == "bool":
                value = config.get_bool(key)
            elif kind == "int":
                value = config.get_int(key)
            elif kind == "float":
                value = config.get_float(key)
            elif kind.startswith("tuple"):
                raw = config.get_object(key)
                value = tuple(raw) if raw is not None else None
            else:
                value = config.get(key)
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.stream_prefix.strip("/"):
            raise ValueError("streamPrefix must not be empty: the rule and the Lambda match keys under it")
        if not 1 <= self.autoscaling_min_capacity <= self.autoscaling_max_capacity:
            raise ValueError("need 1 <= autoscalingMinCapacity <= autoscalingMaxCapacity")
        if not 1 <= self.clips <= 10:
            raise ValueError("clips must be between 1 and 10")
        from infra.model_endpoint import (
            INSTANCE_MODE, SERVERLESS_MAX_CONCURRENCY, SERVERLESS_MEMORY_MB, SERVERLESS_MODE, is_gpu_instance,
        )

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
