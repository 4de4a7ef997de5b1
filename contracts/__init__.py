"""Schemas shared by every part of the pipeline: one definition each.

- :mod:`contracts.segments`: the normalised segment that the validation Lambda
  returns, and the reason codes of a rejected segment.
- :mod:`contracts.records`: the DynamoDB item written for each segment.
- :mod:`contracts.dead_letters`: the message sent to the dead-letter queue.

The state machine builder, the Lambda, the Pulumi program and the local
stack all import from here, so a field is renamed in one place.
"""
