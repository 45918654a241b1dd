"""Writes a synthetic desired state of a given size, for the scale and release benchmarks.

    generate.py OUT --functions N [--queues Q] [--buckets B] [--per-stack K]

Functions and queues go to regional feature sets of at most K functions (default 10) each,
deployed in four regions: a stack stays far below CloudFormation's 500 resources. Bucket types
(global names) go to feature sets of one region, 20 types each. Every function has its own tiny
handler; function i consumes queue i and sends to queue i+1 when those exist in its feature set.
Gated environments staging and prod pin version 1 everywhere (what the first deployment publishes).
"""
import argparse
import os

REGIONS = ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"]
BUCKETS_PER_STACK = 20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--functions", type=int, required=True)
    parser.add_argument("--queues", type=int, default=0)
    parser.add_argument("--buckets", type=int, default=0)
    parser.add_argument("--per-stack", type=int, default=10)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stacks = max(1, -(-args.functions // args.per_stack))
    regional = [f"svc{k + 1}" for k in range(stacks)]
    stores = [f"store{k + 1}" for k in range(-(-args.buckets // BUCKETS_PER_STACK))]

    feature_sets = "".join(f"  {name}:\n    regions: [{', '.join(REGIONS)}]\n" for name in regional)
    feature_sets += "".join(f"  {name}:\n    regions: [{REGIONS[0]}]\n" for name in stores)
    write(args.out, "project.yaml", f"""# Synthetic: {args.functions} functions, {args.queues} queue types, {args.buckets} bucket types.
project: Bench
environments:
  dev: {{alias: auto}}
  staging: {{alias: gated}}
  prod: {{alias: gated}}
featureSets:
{feature_sets}""")

    queue_set = {q: regional[min(q * stacks // max(1, args.queues), stacks - 1)] for q in range(args.queues)}
    queues = "".join(f"  Queue{q + 1}:\n    featureSet: {queue_set[q]}\n" for q in range(args.queues))
    if args.queues:
        write(args.out, "queues.yaml", f"queues:\n{queues}")
    buckets = "".join(f"  bench-data-{b + 1}:\n    featureSet: {stores[b // BUCKETS_PER_STACK]}\n" for b in range(args.buckets))
    if args.buckets:
        write(args.out, "buckets.yaml", f"buckets:\n{buckets}")

    functions, pins = [], []
    for i in range(args.functions):
        name, feature_set = f"Work{i + 1}", regional[i // args.per_stack]
        entry = f"  {name}:\n    featureSet: {feature_set}\n    code: functions/work{i + 1}\n"
        if queue_set.get(i) == feature_set:
            entry += f"    triggers:\n      - queue: Queue{i + 1}\n"
        if queue_set.get(i + 1) == feature_set:
            entry += f"    sendsTo: [Queue{i + 2}]\n"
        functions.append(entry)
        write(args.out, f"functions/work{i + 1}/handler.py", f'"""Work{i + 1}: a synthetic function."""\n\n\ndef handler(event, context):\n    return {{"function": "Work{i + 1}"}}\n')
        pins.append(name)
    write(args.out, "functions.yaml", "defaults:\n  runtime: python3.12\n  handler: handler.handler\n\nfunctions:\n" + "\n".join(functions))
    releases = ""
    for environment in ("staging", "prod"):
        releases += f"{environment}:\n"
        for region in REGIONS:
            releases += f"  {region}:\n" + "".join(f"    {name}: 1\n" for name in pins)
    write(args.out, "releases.yaml", releases)


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
