"""RazorPayWebhook: verifies RazorPay's signature and processes the payment event itself
(no queue in between: RazorPay retries a webhook that does not answer 2xx)."""
import base64
import hashlib
import hmac
import json

from dzgro_runtime import environment_of, json_response, log

_secrets = {}


def _secret(env):
    if env not in _secrets:
        import boto3  # provided by the Lambda Python runtime
        name = f"/dzgro/{env}/RazorPayWebhook/webhook-secret"  # readable by this function only
        value = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        _secrets[env] = value.encode()
    return _secrets[env]


def handler(event, context):
    env = environment_of(context)
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    expected = hmac.new(_secret(env), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-razorpay-signature", "")):
        log.warning("rejected webhook with a bad signature", extra={"env": env})
        return json_response(401, {"error": "invalid signature"})
    payload = json.loads(raw)
    log.info("payment event processed", extra={"env": env, "eventId": headers.get("x-razorpay-event-id"), "event": payload.get("event")})
    return json_response(200, {"processed": True})
