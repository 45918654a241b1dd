"""AmsPerformance: aggregates Amazon Marketing Stream performance messages."""
import json
from collections import Counter

from dzgro_runtime import environment_of, log


def handler(event, context):
    env = environment_of(context)
    per_campaign = Counter()
    failures = []
    for record in event.get("Records", []):
        try:
            message = json.loads(record["body"])
            per_campaign[message.get("change", {}).get("campaignId", "unknown")] += 1
        except (KeyError, ValueError, AttributeError):
            failures.append({"itemIdentifier": record.get("messageId")})
    log.info("performance batch", extra={"env": env, "campaigns": len(per_campaign)})
    return {"batchItemFailures": failures}
