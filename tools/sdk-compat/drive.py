#!/usr/bin/env python3
"""Drives one official LLM SDK against a server (orch's mock-llm) and prints
what the SDK made of the answer, as one JSON object on standard output.

    python3 tools/sdk-compat/drive.py --provider openai    --base-url http://127.0.0.1:PORT/v1
    python3 tools/sdk-compat/drive.py --provider anthropic --base-url http://127.0.0.1:PORT
    python3 tools/sdk-compat/drive.py --provider gemini    --base-url http://127.0.0.1:PORT

`--base-url` is what the SDK itself is configured with: OpenAI's includes
`/v1`; google-genai appends `/{api_version}` (`--api-version`, v1beta) and
`/models/{model}:generateContent` itself.

`--call plain` (the default) sends `--prompt` with `--system` and
`--max-tokens`. `--call canonical` sends the fixed call whose body tests
compare: model `m`, system "You are terse.", user "Say hi.", 256 output
tokens, the JSON Schema in schema.json beside this script as structured
output (Gemini also gets a thinking budget of 128).

The result: {"provider", "sdk", "call", "ok", "text", "refusal",
"stop_reason", "usage", "request_id", "attempts", "retry_counts", "json",
"error"}. `attempts` counts the HTTP requests the SDK sent for the one call
(retries included); `retry_counts` lists the x-stainless-retry-count header of
each (OpenAI, Anthropic). `error` is null or {"type", "status", "message",
"body", "retry_delay"} where retry_delay is the RetryInfo delay of a Gemini
error body. Retries are the SDK's own, bounded by `--max-retries`; OpenAI and
Anthropic wait what `retry-after` says, google-genai (which ignores it) waits
10 ms, doubling.

`--jobs` makes several calls with one SDK import (imports take seconds): it
reads a JSON array of jobs from standard input, each an object of options
for one call (`call`, `model`, `system`, `prompt`, `max_tokens`,
`max_retries`, `timeout`), the command line giving the rest, and prints a
JSON array of results in the same order.

Exit status: 0 when the calls were made (even if the SDK raised: see
`error`), 2 for a usage error, 3 when the SDK is not installed.
"""

import argparse
import json
import os
import sys
from pathlib import Path

CANONICAL_SYSTEM = "You are terse."
CANONICAL_PROMPT = "Say hi."
CANONICAL_MODEL = "m"
CANONICAL_MAX_TOKENS = 256
CANONICAL_THINKING_BUDGET = 128
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
INSTALL_HINT = "pip install -r tools/test-requirements.txt"

# Settings from the environment that would send the SDKs elsewhere (a proxy,
# another endpoint, Vertex AI) or change their credentials.
ENVIRONMENT_TO_IGNORE = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
    "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
    "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION", "GOOGLE_GEMINI_BASE_URL",
)


class Attempts:
    """Counts the HTTP requests the SDK's client sends (an httpx event hook)."""

    def __init__(self):
        self.retry_counts = []

    def __call__(self, request):
        self.retry_counts.append(request.headers.get("x-stainless-retry-count"))

    def hooks(self):
        return {"request": [self]}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", required=True, choices=["openai", "anthropic", "gemini"])
    parser.add_argument("--base-url", required=True, help="the SDK's base_url")
    parser.add_argument("--call", default="plain", choices=["plain", "canonical"])
    parser.add_argument("--model", default=CANONICAL_MODEL)
    parser.add_argument("--system", default=CANONICAL_SYSTEM, help="system text; empty for none")
    parser.add_argument("--prompt", default=CANONICAL_PROMPT)
    parser.add_argument("--max-tokens", type=int, default=CANONICAL_MAX_TOKENS)
    parser.add_argument("--max-retries", type=int, default=2, help="retries after the first attempt")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    parser.add_argument("--api-key", default="mock-key")
    parser.add_argument("--api-version", default="v1beta", help="google-genai's api_version")
    parser.add_argument("--jobs", action="store_true", help="read a JSON array of calls from standard input")
    args = parser.parse_args(argv)
    check(parser, args)
    return parser, args


def check(parser, args):
    if args.call not in ("plain", "canonical"):
        parser.error(f"call `{args.call}` is not plain or canonical")
    if args.max_retries < 0 or args.timeout <= 0:
        parser.error("--max-retries must be 0 or more and --timeout above 0")


JOB_KEYS = {"call": str, "model": str, "system": str, "prompt": str, "max_tokens": int, "max_retries": int,
            "timeout": (int, float)}


def read_jobs(parser, args):
    """The calls standard input asks for, each the command line's options with its own on top."""
    try:
        jobs = json.load(sys.stdin)
    except ValueError as error:
        parser.error(f"--jobs: standard input is not JSON: {error}")
    if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
        parser.error("--jobs: standard input must be a JSON array of objects")
    calls = []
    for job in jobs:
        call = argparse.Namespace(**vars(args))
        for key, value in job.items():
            if key not in JOB_KEYS or not isinstance(value, JOB_KEYS[key]) or isinstance(value, bool):
                parser.error(f"--jobs: `{key}: {json.dumps(value)}` is not one of {sorted(JOB_KEYS)} with its type")
            setattr(call, key, value)
        check(parser, call)
        calls.append(call)
    return calls


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as file:
        return json.load(file)


def sdk_version(distribution):
    """`openai 3.57.0`; raises ImportError (PackageNotFoundError) when it is not installed."""
    from importlib.metadata import version

    return f"{distribution} {version(distribution)}"


def status_error(error, status, body):
    return {"type": type(error).__name__, "status": status, "message": str(error), "body": body, "retry_delay": None}


# --- OpenAI ---------------------------------------------------------------


def drive_openai(args, attempts):
    import openai

    client = openai.OpenAI(
        api_key=args.api_key,
        base_url=args.base_url,
        max_retries=args.max_retries,
        timeout=args.timeout,
        http_client=openai.DefaultHttpxClient(event_hooks=attempts.hooks(), trust_env=False),
    )
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": args.prompt})
    extra = {}
    if args.call == "canonical":
        schema = {"name": "verdict", "strict": True, "schema": load_schema()}
        extra["response_format"] = {"type": "json_schema", "json_schema": schema}
    result = {}
    try:
        completion = client.chat.completions.create(
            model=args.model, messages=messages, max_completion_tokens=args.max_tokens, **extra
        )
    except openai.APIStatusError as error:
        result["error"] = status_error(error, error.status_code, error.body)
        result["request_id"] = error.request_id
        return result
    choice = completion.choices[0]
    result.update(
        text=choice.message.content,
        refusal=choice.message.refusal,
        stop_reason=choice.finish_reason,
        usage=completion.usage.model_dump(mode="json", exclude_none=True) if completion.usage else None,
        request_id=completion._request_id,
    )
    return result


# --- Anthropic ------------------------------------------------------------


def drive_anthropic(args, attempts):
    import anthropic

    client = anthropic.Anthropic(
        api_key=args.api_key,
        base_url=args.base_url,
        max_retries=args.max_retries,
        timeout=args.timeout,
        http_client=anthropic.DefaultHttpxClient(event_hooks=attempts.hooks(), trust_env=False),
    )
    extra = {"system": args.system} if args.system else {}
    if args.call == "canonical":
        extra["output_config"] = {"format": {"type": "json_schema", "schema": load_schema()}}
    result = {}
    try:
        message = client.messages.create(
            model=args.model,
            max_tokens=args.max_tokens,
            messages=[{"role": "user", "content": args.prompt}],
            **extra,
        )
    except anthropic.APIStatusError as error:
        result["error"] = status_error(error, error.status_code, error.body)
        result["request_id"] = error.request_id
        return result
    texts = [block.text for block in message.content if block.type == "text"]
    details = message.stop_details
    result.update(
        text="".join(texts) if texts else None,
        refusal=details.model_dump(mode="json") if details is not None else None,
        stop_reason=message.stop_reason,
        usage=message.usage.model_dump(mode="json", exclude_none=True),
        request_id=message._request_id,
    )
    return result


# --- Gemini ---------------------------------------------------------------


def retry_delay(body):
    """The `retryDelay` of the RetryInfo detail in a Google error body."""
    details = (body or {}).get("error", {}).get("details", []) if isinstance(body, dict) else []
    for detail in details:
        if detail.get("@type") == "type.googleapis.com/google.rpc.RetryInfo":
            return detail.get("retryDelay")
    return None


def drive_gemini(args, attempts):
    from google import genai
    from google.genai import errors, types

    retry = types.HttpRetryOptions(
        attempts=args.max_retries + 1, initial_delay=0.01, max_delay=0.1, exp_base=2, jitter=0
    )
    client = genai.Client(
        vertexai=False,
        api_key=args.api_key,
        http_options=types.HttpOptions(
            base_url=args.base_url,
            api_version=args.api_version,
            timeout=int(args.timeout * 1000),
            retry_options=retry,
            client_args={"event_hooks": attempts.hooks(), "trust_env": False},
        ),
    )
    config = {"max_output_tokens": args.max_tokens}
    if args.system:
        config["system_instruction"] = args.system
    if args.call == "canonical":
        config.update(
            response_mime_type="application/json",
            response_json_schema=load_schema(),
            thinking_config=types.ThinkingConfig(thinking_budget=CANONICAL_THINKING_BUDGET),
        )
    result = {}
    try:
        response = client.models.generate_content(
            model=args.model, contents=args.prompt, config=types.GenerateContentConfig(**config)
        )
    except errors.APIError as error:
        result["error"] = status_error(error, error.code, error.details)
        result["error"]["retry_delay"] = retry_delay(error.details)
        return result
    candidate = response.candidates[0] if response.candidates else None
    finish = candidate.finish_reason if candidate else None
    usage = response.usage_metadata
    result.update(
        text=response.text,
        refusal=None,
        stop_reason=getattr(finish, "value", finish),
        usage=usage.model_dump(mode="json", exclude_none=True) if usage else None,
        request_id=response.response_id,
    )
    return result


# Each provider's SDK distribution and driver.
DRIVERS = {"openai": ("openai", drive_openai), "anthropic": ("anthropic", drive_anthropic),
           "gemini": ("google-genai", drive_gemini)}


def as_json(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def run(args):
    """One call: what the SDK made of it. Raises ImportError when the SDK is missing."""
    attempts = Attempts()
    result = {
        "provider": args.provider, "call": args.call, "text": None, "refusal": None, "stop_reason": None,
        "usage": None, "request_id": None, "error": None,
    }
    distribution, drive = DRIVERS[args.provider]
    result["sdk"] = sdk_version(distribution)
    try:
        result.update(drive(args, attempts))
    except ImportError:
        raise
    except Exception as error:  # a transport error, a timeout, a parse failure: report it
        result["error"] = {"type": type(error).__name__, "status": None, "message": str(error), "body": None,
                           "retry_delay": None}
    result["ok"] = result["error"] is None
    result["attempts"] = len(attempts.retry_counts)
    result["retry_counts"] = attempts.retry_counts
    result["json"] = as_json(result["text"])
    return result


def main(argv):
    parser, args = parse_args(argv)
    calls = read_jobs(parser, args) if args.jobs else [args]
    for name in ENVIRONMENT_TO_IGNORE:
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    try:
        results = [run(call) for call in calls]
    except ImportError as error:
        print(f"drive.py: the {args.provider} SDK is not installed ({error}); {INSTALL_HINT}", file=sys.stderr)
        return 3
    json.dump(results if args.jobs else results[0], sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
