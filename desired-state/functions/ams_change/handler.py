"""AmsChange: applies Amazon Marketing Stream change messages (AMS_CHANGE queue)."""
import json

from dzgro_runtime import environment_of, log, send


def handler(event, context):
    env = environment_of(context)
    failures = []
    for record in event.get("Records", []):
        try:
            change = json.loads(record["body"])
            if change.get("datasetId", "").startswith("sp-traffic"):
                send("AmsPerformance", env, {"kind": "traffic", "change": change})
            log.info("change applied", extra={"env": env, "dataset": change.get("datasetId")})
        except (KeyError, ValueError):
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
