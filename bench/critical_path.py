"""The critical path of a run, from scripts/delay_proxy.py's timeline ([arrived, answered, "METHOD region op", "service region"]).
"""


def chain(timeline):
    """The longest chain of requests each sent after the one before it was answered, first to last."""
    ordered = sorted(timeline, key=lambda r: r[0])
    best, previous = [], []
    for i, request in enumerate(ordered):
        arrived = request[0]
        before = [j for j in range(i) if ordered[j][1] <= arrived]
        j = max(before, key=lambda k: (best[k], ordered[k][1]), default=None)
        best.append(1 + (best[j] if j is not None else 0))
        previous.append(j)
    if not best:
        return []
    i = max(range(len(best)), key=lambda k: (best[k], -ordered[k][1]))
    path = []
    while i is not None:
        path.append(ordered[i])
        i = previous[i]
    return path[::-1]


def outside(path, start, end):
    """Where a run's time went around its critical path: (before the first request, between
    those of the path, after the last answer, inside the path's requests), in seconds."""
    if not path:
        return (end - start, 0.0, 0.0, 0.0)
    return (path[0][0] - start, sum(b[0] - a[1] for a, b in zip(path, path[1:])), end - path[-1][1], sum(r[1] - r[0] for r in path))
