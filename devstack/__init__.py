"""The local stack: the whole pipeline on one machine, no AWS account.

- :mod:`devstack.moto_process`: moto in server mode, with the bridges installed.
- :mod:`devstack.bridges`: the gaps in moto this project bridges, one module each.
- :mod:`devstack.endpoints`: SageMaker endpoints served locally by AWS's serving stack (MMS + toolkit).
- :mod:`devstack.lambda_workers`, :mod:`devstack.lambda_runtime`: Lambda functions run from their archives.
- :mod:`devstack.deploy`: runs the Pulumi program under mocks that create each resource in moto.
- :mod:`devstack.stack`: starts everything and writes ``.devstack/stack.json``.
- :mod:`devstack.stream`: cuts a video into HLS segments and uploads them (local or real AWS).
- :mod:`devstack.observe`: timeline, dead letters and execution traces.
- ``python -m devstack``: the command line.
"""
