"""Api: the HTTP API backend (ANY /api/{proxy+}, payload format 2.0)."""
from dzgro_runtime import environment_of, json_response, log


def handler(event, context):
    env = environment_of(context)
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    path = event.get("rawPath", "/")
    log.info("request", extra={"env": env, "method": method, "path": path})
    if path.rstrip("/") == "/api/health":
        return json_response(200, {"status": "ok", "environment": env})
    return json_response(404, {"error": f"no route for {method} {path}", "environment": env})
