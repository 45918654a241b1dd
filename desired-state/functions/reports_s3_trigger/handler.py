"""DzgroReportsS3Trigger: queues a report job for each report file that lands."""
from urllib.parse import unquote_plus

from dzgro_runtime import environment_of, log, send


def handler(event, context):
    env = environment_of(context)
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        send("DzgroReports", env, {"kind": "report-file", "bucket": bucket, "key": key})
        log.info("report queued", extra={"env": env, "bucket": bucket, "key": key})
    return {"queued": len(event.get("Records", []))}
