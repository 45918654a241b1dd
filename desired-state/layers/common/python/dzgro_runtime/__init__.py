"""Runtime helpers shared by every Dzgro function (shipped in the `common` layer).

A function learns its environment from the alias at the end of the ARN it was
invoked through (arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS). Aliases
cannot carry environment variables, and every trigger invokes an alias, so an
unqualified or version-qualified invocation is refused rather than guessed.
"""
import json
import logging
import os

ENVIRONMENTS = ("dev", "staging", "prod")
PROJECT = os.environ.get("PROJECT", "Dzgro")

log = logging.getLogger("dzgro")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


class NotInvokedThroughAlias(RuntimeError):
    pass


def environment_of(context):
    """Return 'dev', 'staging' or 'prod' from the invoked function ARN."""
    parts = context.invoked_function_arn.split(":")
    alias = parts[7] if len(parts) == 8 else None
    if alias not in ENVIRONMENTS:
        raise NotInvokedThroughAlias(
            f"{context.invoked_function_arn} was not invoked through an environment alias "
            f"({', '.join(ENVIRONMENTS)}); refusing to guess the environment")
    return alias


def queue_name(queue_type, environment, dead_letter=False):
    """Queue naming from the desired state: {Name}{Q|DLQ}{Env}."""
    return f"{queue_type}{'DLQ' if dead_letter else 'Q'}{environment.capitalize()}"


def bucket_name(bucket_type, environment):
    """Bucket naming from the desired state: {name}-{env}."""
    return f"{bucket_type}-{environment}"


def send(queue_type, environment, body):
    """Send one JSON message to the queue of this type in this environment."""
    import boto3  # provided by the Lambda Python runtime
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name(queue_type, environment))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body, sort_keys=True))


def json_response(status, body):
    """An HTTP API (payload 2.0) response."""
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body, sort_keys=True)}
