"""CognitoTrigger: PreSignUp and PostConfirmation hooks of the user pool."""
from dzgro_runtime import environment_of, log


def handler(event, context):
    env = environment_of(context)
    trigger = event.get("triggerSource", "")
    if trigger.startswith("PreSignUp_"):
        # Users sign up with e-mail; confirmation stays mandatory.
        event.setdefault("response", {})["autoConfirmUser"] = False
    log.info("cognito trigger", extra={"env": env, "trigger": trigger})
    return event
