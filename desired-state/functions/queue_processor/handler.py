"""QueueModelMessageProcessor: consumes the core queues of its environment."""
import json

from dzgro_runtime import environment_of, log


def handler(event, context):
    env = environment_of(context)
    failures = []
    for record in event.get("Records", []):
        queue = record.get("eventSourceARN", "").rsplit(":", 1)[-1]
        try:
            message = json.loads(record["body"])
            log.info("message", extra={"env": env, "queue": queue, "kind": message.get("kind")})
        except (KeyError, ValueError):
            log.error("unreadable message", extra={"env": env, "queue": queue})
            failures.append({"itemIdentifier": record.get("messageId")})
    # Partial batch response: only the failed messages return to the queue.
    return {"batchItemFailures": failures}
