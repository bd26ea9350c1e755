"""Campaigns at scale: one exploration split into shards that run on every core or a Dask
cluster, merged into one findings table with how findable each finding is.

:mod:`.campaign` plans and merges, :mod:`.runners` runs shards (in this process, in worker
processes, on a ``dask.distributed`` cluster), :mod:`.shard` is what a worker runs,
:mod:`.swarm` gives each shard its fault mix, :mod:`.findability` the confidence intervals,
:mod:`.database` the example database the shards share.
"""
