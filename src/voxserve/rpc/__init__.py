"""The gRPC transport (``voxserve.v1.Speech``): a thin layer over the same use cases as HTTP.

``convert`` (protobuf <-> domain values), ``errors`` (the one mapping of domain errors to
gRPC statuses), ``call`` (per-call authentication, rate limits, access log, audit, metrics),
``servicer`` (the RPCs), ``health`` (``grpc.health.v1``), ``server`` (the ``grpc.aio``
server: options, TLS, reflection, start and graceful stop). The generated code is in ``v1``.
"""
