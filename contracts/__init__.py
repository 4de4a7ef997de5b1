"""Schemas shared by every part of the pipeline: one definition each.

- :mod:`contracts.segments`: the normalised segment that the validation Lambda
  returns, and the reason codes of a rejected segment.
- :mod:`contracts.records`: the DynamoDB item written for each segment.
- :mod:`contracts.dead_letters`: the message sent to the dead-letter queue.
- :mod:`contracts.workflow`: the workflow's state names and state paths.
- :mod:`contracts.endpoint`: the endpoint's request and response, and their limits.
- :mod:`contracts.events`: the events published on the stack's bus (source, detail-type, detail).
- :mod:`contracts.environment`: the runtime environment variables of the Lambda and the endpoint.

The state machine builder, the Lambda, the Pulumi program and the local
stack all import from here, so a field is renamed in one place.
"""
